// The health watch (src/reconcile/health-watch.ts) through its ports: a cycle's observation comes in through
// `observed` (the cycle's onObserved), the registry through a RegistryWatcher. An in-memory registry records
// what it was asked; the Observer posts through an in-memory StatusReporter. The real Consul path is
// test/server/health-watch.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ActualResource, EnvironmentModel } from "../../src/model/index.js";
import type { RegistryWatch, RegistryWatchOptions, RegistryWatcher, WatchedRegistry } from "../../src/ports/registry.js";
import type { CommitStatus, StatusReporter } from "../../src/ports/status.js";
import { HealthWatch } from "../../src/reconcile/health-watch.js";
import type { Observation } from "../../src/reconcile/observe.js";
import { planLive } from "../../src/reconcile/pipeline.js";
import { scenarioActual, scenarioModel } from "../report/scenario.js";

/** A registry in memory: watches are handed to the test, reads answer `resources` (or fail). */
class MemoryRegistry implements RegistryWatcher {
  opened: string[] = [];
  catalog: RegistryWatchOptions<Record<string, string[]>> | null = null;
  services = new Map<string, RegistryWatchOptions<unknown>>();
  stopped: string[] = [];
  reads = 0;
  resources: ActualResource[] = [];
  failWith: Error | null = null;

  open(env: EnvironmentModel): WatchedRegistry {
    this.opened.push(env.name);
    const watch = (name: string): RegistryWatch => ({ stop: () => void this.stopped.push(name) });
    return {
      address: env.consul.address,
      watchCatalog: (opts) => ((this.catalog = opts), watch("(catalog)")),
      watchService: (service, opts) => (this.services.set(service, opts), watch(service)),
      read: async () => {
        this.reads++;
        if (this.failWith) throw this.failWith;
        return structuredClone(this.resources);
      },
    };
  }
}

async function observation(): Promise<Observation> {
  const model = scenarioModel();
  const env = model.environments[0]!;
  const { desired, actual, plan } = await planLive(model, "prod", async () => scenarioActual());
  return { model, env, desired, actual, plan, revision: "a".repeat(40), id: "r-1" };
}

const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), "condition not reached");
};

test("an observation starts the watches; a service change reads the registry once and posts the re-observed statuses", async () => {
  const registry = new MemoryRegistry();
  const posts: { sha: string; statuses: CommitStatus[] }[] = [];
  const reports: string[] = [];
  const logs: string[] = [];
  const reporter = (): StatusReporter => ({
    provider: "memory",
    post: async (sha, statuses) => (posts.push({ sha, statuses: [...statuses] }), statuses.map((s) => ({ context: s.context, ok: true, httpStatus: null, attempts: 1, error: null }))),
  });
  const watch = new HealthWatch({
    registry, debounceMs: 0, log: (l) => logs.push(l),
    observe: { reporter, writeReports: async (_env, id) => void reports.push(id), now: () => new Date("2026-01-02T03:04:05Z"), log: (l) => logs.push(l) },
  });
  const o = await observation();
  watch.observed(o);
  assert.deepEqual(registry.opened, ["prod"]);
  registry.catalog!.onChange({ catalog: ["amphi", "env:prod"], billing: ["amphi", "env:staging"], other: ["env:prod"] });
  assert.deepEqual([...registry.services.keys()], ["catalog"]);
  assert.equal(watch.watching("prod"), 1);
  // Consul now answers the registrations with every check passing.
  registry.resources = o.actual.resources.filter((r) => r.runtime === "consul").map((r) => ({ ...r, observed: { check: "passing" as const } }));
  registry.services.get("catalog")!.onChange([]);
  await until(() => watch.reobserved === 1);
  assert.equal(registry.reads, 1);
  assert.equal(reports.length, 1);
  assert.match(reports[0]!, /-health$/);
  assert.equal(posts.length, 1);
  assert.equal(posts[0]!.sha, o.revision);
  assert.ok(posts[0]!.statuses.some((s) => s.context === "amphi/prod"));

  // A read that fails posts nothing and is logged once per outage.
  registry.failWith = new Error("connection refused");
  registry.services.get("catalog")!.onChange([1]);
  registry.services.get("catalog")!.onError(new Error("connection refused"));
  await until(() => registry.reads === 2);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(posts.length, 1);
  assert.equal(logs.filter((l) => /connection refused/.test(l)).length, 1);

  await watch.stop();
  assert.deepEqual(registry.stopped.sort(), ["(catalog)", "catalog"]);
});

test("an environment without Consul opens no registry", async () => {
  const registry = new MemoryRegistry();
  const watch = new HealthWatch({ registry, log: () => {}, observe: { now: () => new Date(), log: () => {} } });
  const o = await observation();
  watch.observed({ ...o, env: { ...o.env, consul: { ...o.env.consul, enabled: false } } });
  assert.deepEqual(registry.opened, []);
  assert.equal(watch.watching("prod"), null);
  await watch.stop();
});

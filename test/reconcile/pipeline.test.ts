// The pipeline (src/reconcile/pipeline.ts): render → read → diff → plan assembled once, and readActual
// (src/reconcile/actual.ts): one read per runtime through the readers it is handed, merged in key order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { render } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import type { ActualResource, DesiredState, EnvironmentModel } from "../../src/model/index.js";
import type { ActualRead, ActualReader } from "../../src/ports/actual.js";
import { planDesired, planLive } from "../../src/reconcile/pipeline.js";
import { readActual } from "../../src/reconcile/actual.js";
import { prScope } from "../../src/reconcile/pr-scope.js";
import { scenarioActual, scenarioModel } from "../report/scenario.js";

test("planLive renders, reads once and plans what render → diff → buildPlan give", async () => {
  const model = scenarioModel();
  const actual = scenarioActual();
  let reads = 0;
  const got = await planLive(model, "prod", async () => (reads++, actual));
  assert.equal(reads, 1);
  assert.deepEqual(got.desired, render(model, "prod"));
  assert.equal(got.actual, actual);
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  const want = buildPlan(diff(render(model, "prod"), actual, { ignore: model.environments[0]!.ignoreDifferences }), deps, model.revision);
  assert.deepEqual(got.plan, want);
  assert.ok(got.plan.summary.update > 0 && got.plan.unknown.length > 0, "the scenario has drift and an unseen host");
});

test("planLive hands its one rendering to a replaced planner; with a scope, only the scope's apps are planned", async () => {
  const model = scenarioModel();
  const actual = scenarioActual();
  let seen: DesiredState | null = null;
  const got = await planLive(model, "prod", async () => actual, { plan: (m, env, a, d) => ((seen = d), planDesired(m, env, a, d)) });
  assert.equal(seen, got.desired);
  const scope = prScope([{ status: "M", path: "apps/web/app.yaml" }], model, model, "prod");
  const scoped = await planLive(model, "prod", async () => actual, { scope });
  const apps = new Set(scoped.plan.steps.map((s) => s.app));
  assert.ok(apps.size > 0, "web is in scope and drifted");
  assert.deepEqual([...apps].filter((a) => a !== "web"), []);
});

test("planLive fails on an unknown environment before reading anything", async () => {
  let reads = 0;
  await assert.rejects(planLive(scenarioModel(), "prdo", async () => (reads++, scenarioActual())), /unknown environment "prdo"/);
  assert.equal(reads, 0);
});

/** An in-memory reader: answers what it was given, records what it was asked. */
class MemoryReader implements ActualReader {
  calls: { env: string; signal: AbortSignal | undefined }[] = [];
  constructor(private readonly answer: ActualRead) {}
  async read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    this.calls.push({ env: env.name, signal });
    return structuredClone(this.answer);
  }
}

test("readActual asks every reader once with the environment and signal, and merges their answers by key and target", async () => {
  const model = scenarioModel();
  const env = model.environments[0]!;
  const all = scenarioActual().resources;
  const byRuntime = (rt: ActualResource["runtime"]) => all.filter((r) => r.runtime === rt).reverse();
  const hosts = new MemoryReader({ resources: [...byRuntime("vm"), ...byRuntime("capture")], unreachable: [{ runtime: "vm", target: "legacy/vm-3", reason: "down" }] });
  const clusters = new MemoryReader({ resources: byRuntime("k8s"), unreachable: [{ runtime: "k8s", target: "eu1", reason: "forbidden" }] });
  const registry = new MemoryReader({ resources: byRuntime("consul"), unreachable: [{ runtime: "consul", target: "http://consul:8500", reason: "refused" }] });
  const signal = new AbortController().signal;
  const got = await readActual(env, [registry, hosts, clusters], { now: () => "2026-01-02T03:04:05.000Z", signal });
  for (const r of [hosts, clusters, registry]) assert.deepEqual(r.calls, [{ env: "prod", signal }]);
  assert.equal(got.env, "prod");
  assert.equal(got.observedAt, "2026-01-02T03:04:05.000Z");
  assert.deepEqual(got.resources.map((r) => r.key), all.map((r) => r.key).sort());
  assert.deepEqual(got.unreachable.map((u) => `${u.runtime} ${u.target}`), ["k8s eu1", "consul http://consul:8500", "vm legacy/vm-3"]);
});

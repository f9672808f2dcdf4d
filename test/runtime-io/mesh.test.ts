// Where applied mesh policy lives, and the mesh runtime's reader and handler over it: the file store under the
// state directory and the Consul KV store (against the Consul double; a real agent when CONSUL_HTTP_ADDR is set),
// each read, written and watched the same way; the handler records a policy with the revision it came from and
// says `unchanged` for one already applied; a store that cannot be read is an unreachable target, not "nothing".
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { ConsulMeshPolicyStore, FileMeshPolicyStore, meshPolicyStoreFor } from "../../src/adapters/state/mesh-store.js";
import { MeshPolicyHandler, MeshPolicyReader } from "../../src/runtime-io/mesh.js";
import type { AppliedMesh, MeshPolicyStore } from "../../src/ports/mesh.js";
import type { TaskRecord, TrafficPolicy } from "../../src/model/index.js";
import type { TaskSpec } from "../../src/plan/tasks.js";
import { fixtureEnvironment } from "../support/model-fixture.js";

const policy = (service: string, weights: [string, number][] = []): TrafficPolicy => ({
  service,
  split: weights.map(([version, weight]) => ({ version, weight })),
  timeoutMs: 2000,
  retries: null,
  circuitBreaker: null,
  outlierDetection: null,
  rateLimit: null,
});

function task(service: string, p: TrafficPolicy | null): TaskRecord & { spec: TaskSpec } {
  const payload = { kind: "mesh-policy" as const, service, app: service, policy: p };
  const spec: TaskSpec = { kind: "mesh-policy", target: "xds", app: service, wave: 1, keys: [`mesh/${service}`], payload };
  return { id: "r-1.1", runId: "r-1", kind: "mesh-policy", target: "xds", app: service, wave: 1, keys: spec.keys, state: "running", result: null, message: "", createdAt: "", startedAt: null, endedAt: null, output: [], spec };
}
const ctx = { signal: new AbortController().signal, log: () => {} };

/** What every store does: nothing applied reads null; the handler records, with the revision, and the reader
 * reads it back; an equal policy is unchanged; a removal leaves the others; the watch sees each change. */
async function behavesAsStore(store: MeshPolicyStore): Promise<void> {
  const env = fixtureEnvironment();
  assert.equal(await store.read(), null);
  const seen: (AppliedMesh | null)[] = [];
  const watch = store.watch((a) => seen.push(a), (e) => assert.fail(e));
  try {
    await watch.ready;
    assert.deepEqual(seen, [null], "the first read is delivered: nothing applied");
    let revision: string | null = "a".repeat(40);
    const handler = new MeshPolicyHandler(store, "prod", async () => revision);
    const r1 = await handler.run(task("billing", policy("billing", [["2.3.0", 100]])), ctx);
    assert.equal(r1.result, "changed");
    assert.match(r1.message, /applied traffic policy of billing \(revision aaaaaaaaaaaa\): the control plane pushes it to the proxies/);
    revision = "b".repeat(40);
    await handler.run(task("user", policy("user")), ctx);
    assert.equal((await handler.run(task("user", policy("user")), ctx)).result, "unchanged");
    const applied = await store.read();
    assert.deepEqual(applied?.policies.map((p) => p.service), ["billing", "user"]);
    assert.equal(applied?.revision, "b".repeat(40));
    assert.deepEqual(applied?.apps, { billing: "billing", user: "user" });
    const read = await new MeshPolicyReader(store).read(env);
    assert.deepEqual(read, {
      resources: [
        { runtime: "mesh", key: "mesh/billing", app: "billing", target: "xds", policy: policy("billing", [["2.3.0", 100]]) },
        { runtime: "mesh", key: "mesh/user", app: "user", target: "xds", policy: policy("user") },
      ],
      unreachable: [],
    });
    assert.equal((await handler.run(task("billing", null), ctx)).result, "changed");
    assert.deepEqual((await store.read())?.policies.map((p) => p.service), ["user"]);
    const t0 = Date.now();
    for (;;) {
      const last = seen.at(-1) as AppliedMesh | null | undefined;
      if (last && last.policies.length === 1) break;
      if (Date.now() - t0 > 10_000) assert.fail(`the watch did not follow the writes: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    watch.stop();
  }
}

describe("file store", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), `amphi-mesh-store-${process.pid}-`))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("read, write, watch, and the handler and reader over it", async () => {
    const store = meshPolicyStoreFor(fixtureEnvironment(), { cwd: dir, processEnv: {} });
    assert.ok(store instanceof FileMeshPolicyStore);
    assert.equal((store as FileMeshPolicyStore).file, join(dir, ".amphi", "mesh", "prod.json"));
    await behavesAsStore(store);
  });

  test("a record that is not one is an error naming the file, and the reader reports the store unreachable", async () => {
    const store = new FileMeshPolicyStore(join(dir, "bad"), "prod");
    mkdirSync(join(dir, "bad", "mesh"), { recursive: true });
    writeFileSync(store.file, JSON.stringify({ env: "staging", policies: [] }));
    await assert.rejects(store.read(), new RegExp(`applied mesh policy ${store.file}: records environment "staging", not prod`));
    writeFileSync(store.file, "{");
    const read = await new MeshPolicyReader(store).read(fixtureEnvironment());
    assert.deepEqual(read.resources, []);
    assert.equal(read.unreachable.length, 1);
    assert.equal(read.unreachable[0]!.runtime, "mesh");
    assert.match(read.unreachable[0]!.reason, /not JSON/);
  });

  test("a damaged policy or apps map is an error naming the file and the field, not a record read half", async () => {
    const store = new FileMeshPolicyStore(join(dir, "damaged"), "prod");
    mkdirSync(join(dir, "damaged", "mesh"), { recursive: true });
    const policy = { service: "billing", split: [], timeoutMs: null, retries: null, circuitBreaker: null, outlierDetection: null, rateLimit: null };
    writeFileSync(store.file, JSON.stringify({ env: "prod", revision: null, appliedAt: "", policies: [{ ...policy, split: "90/10" }], apps: { billing: "billing" } }));
    await assert.rejects(store.read(), { message: `applied mesh policy ${store.file}: policies[0].split must be a list` });
    writeFileSync(store.file, JSON.stringify({ env: "prod", revision: null, appliedAt: "", policies: [policy], apps: ["billing"] }));
    await assert.rejects(store.read(), { message: `applied mesh policy ${store.file}: "apps" must be a map of service → app` });
  });
});

describe("Consul KV store", () => {
  let target: ConsulTestTarget;
  let client: ConsulClient;
  const prefix = `amphi-mesh-test-${process.pid}`;
  before(async () => {
    target = await consulTestTarget();
    client = new ConsulClient({ address: target.url, token: target.token ?? null });
  });
  after(async () => {
    await client.send("DELETE", `/v1/kv/${prefix}`, { query: { recurse: "" } }).catch(() => {});
    await target.close();
  });

  test("read, write, watch (blocking queries), and the handler and reader over it", async () => {
    const env = { ...fixtureEnvironment(), consul: { ...fixtureEnvironment().consul, address: target.url }, state: { backend: "consul" as const, path: prefix } };
    const store = meshPolicyStoreFor(env, { cwd: "/nonexistent", processEnv: {} });
    assert.ok(store instanceof ConsulMeshPolicyStore);
    assert.equal((store as ConsulMeshPolicyStore).key, `${prefix}/mesh/prod`);
    await behavesAsStore(store);
    const raw = await client.get<AppliedMesh>(`/v1/kv/${prefix}/mesh/prod`, { query: { raw: "" } });
    assert.deepEqual(raw.data.policies.map((p) => p.service), ["user"], "one JSON value under <prefix>/mesh/<env>");
  });

  test("an unreachable Consul is an unreachable target of the mesh, naming the store", async () => {
    const store = new ConsulMeshPolicyStore(new ConsulClient({ address: "http://127.0.0.1:9", token: null }), prefix, "prod");
    const read = await new MeshPolicyReader(store).read(fixtureEnvironment());
    assert.deepEqual(read.resources, []);
    assert.equal(read.unreachable[0]?.target, `consul http://127.0.0.1:9 key ${prefix}/mesh/prod`);
    assert.match(read.unreachable[0]!.reason, /GET \/v1\/kv\/.* failed/);
  });
});

// The proxies the control-plane replicas publish (ports/mesh.ts ProxyStatusStore, file backend) and how the mesh
// reader hands them to drift: stale records (dead replicas) dropped, one entry per node id across replicas, a bad
// record an unreachable target naming its file; the publisher writes on change and withdraws on stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsulProxyStatusStore, FileMeshPolicyStore, FileProxyStatusStore } from "../../src/adapters/state/mesh-store.js";
import { ConsulClient } from "../../src/adapters/consul/index.js";
import { startConsulDouble } from "../support/consul/index.js";
import { liveProxies, MeshPolicyReader } from "../../src/runtime-io/mesh.js";
import { publishProxies, proxiesOf } from "../../src/cli/xds-proxies.js";
import type { ObservedProxy } from "../../src/model/index.js";
import type { ProxyStatusRecord } from "../../src/ports/mesh.js";
import type { XdsStatus } from "../../src/adapters/xds/index.js";
import { eventually } from "../server/support.js";

const NOW = Date.parse("2026-12-05T12:00:00Z");
const at = (ms: number) => new Date(NOW - ms).toISOString();
const p = (id: string, connected: boolean, sinceAgo: number, nacked: string | null = null): ObservedProxy => ({ id, connected, since: at(sinceAgo), types: { cluster: { acked: "1", nacked, error: nacked ? "bad" : null } } });
const rec = (replica: string, heartbeatAgo: number, proxies: ObservedProxy[]): ProxyStatusRecord => ({ env: "prod", replica, heartbeatAt: at(heartbeatAgo), proxies });

test("live proxies: a stale record is dropped; across live replicas connected wins, else the latest disconnect", () => {
  const out = liveProxies(
    [
      rec("a", 2_000, [p("x", false, 5_000), p("y", false, 50_000), p("z", true, 1_000, "7")]),
      rec("b", 4_000, [p("x", true, 4_000), p("y", false, 20_000)]),
      rec("dead", 120_000, [p("w", true, 900_000, "3"), p("y", true, 200_000)]),
    ],
    NOW,
  );
  assert.deepEqual(out.map((x) => [x.id, x.connected, x.since]), [["x", true, at(4_000)], ["y", false, at(20_000)], ["z", true, at(1_000)]]);
});

test("the mesh reader returns the published proxies of live replicas; a bad record is skipped with a warning naming its file", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-proxies-${process.pid}-`));
  try {
    const store = new FileProxyStatusStore(dir, "prod");
    const warnings: string[] = [];
    const reader = new MeshPolicyReader(new FileMeshPolicyStore(dir, "prod"), store, () => NOW, (l) => warnings.push(l));
    assert.deepEqual(await reader.read({} as never), { resources: [], unreachable: [], proxies: [] }, "nothing published yet");
    await store.publish(rec("r1", 1_000, [p("sidecar~prod~billing~vm-1", true, 10_000, "9")]));
    await store.publish(rec("r0", 60_000, [p("sidecar~prod~billing~vm-2", true, 10_000, "9")]));
    const read = await reader.read({} as never);
    assert.deepEqual(read.proxies?.map((x) => x.id), ["sidecar~prod~billing~vm-1"]);
    // One replica's bad record hides nothing else: the mesh row stays readable, the record is named and skipped.
    writeFileSync(join(store.folder, "broken.json"), "{");
    const bad = await reader.read({} as never);
    assert.deepEqual(bad.unreachable, []);
    assert.deepEqual(bad.proxies?.map((x) => x.id), ["sidecar~prod~billing~vm-1"]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /prod\.proxies\/broken\.json: not JSON: .*: skipped \(the proxies of that replica are not in this report\)$/);
    writeFileSync(join(store.folder, "broken.json"), JSON.stringify({ ...rec("x", 0, []), env: "staging" }));
    assert.deepEqual((await reader.read({} as never)).proxies?.map((x) => x.id), ["sidecar~prod~billing~vm-1"]);
    assert.match(warnings[1]!, /broken\.json: records environment "staging", not prod: skipped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the publisher writes the status as a record (errors' first line only), rewrites on change, withdraws on stop", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-proxies-${process.pid}-`));
  try {
    const store = new FileProxyStatusStore(dir, "prod");
    const status: XdsStatus = { streams: 1, nodes: [{ id: "n1", streams: 1, since: NOW, types: { cluster: { sent: "2", acked: "1", nacked: "2", error: "first line\nsecond line" } } }], counters: {} as never };
    const pub = publishProxies(store, { env: "prod", replica: "r/1", status: () => status, log: () => {} });
    const first = await eventually(async () => (await store.readAll())[0], 5_000, "the first record");
    assert.deepEqual(first.proxies, [{ id: "n1", connected: true, since: new Date(NOW).toISOString(), types: { cluster: { acked: "1", nacked: "2", error: "first line" } } }]);
    assert.deepEqual(proxiesOf(status), first.proxies);
    status.nodes[0]!.streams = 0;
    pub.changed();
    await eventually(async () => ((await store.readAll())[0]?.proxies[0]?.connected === false ? true : undefined), 5_000, "the disconnect");
    await pub.stop();
    assert.deepEqual(await store.readAll(), []);
    assert.ok(existsSync(store.folder));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Consul KV backend: one key per replica under <prefix>/mesh-proxies/<env>/, read with recurse, withdrawn by delete", async () => {
  const consul = await startConsulDouble();
  try {
    const store = new ConsulProxyStatusStore(new ConsulClient({ address: consul.url, token: null, datacenter: null }), `amphi-${process.pid}`, "prod");
    assert.deepEqual(await store.readAll(), []);
    await store.publish(rec("r1", 0, [p("a", true, 1_000, "2")]));
    await store.publish(rec("r2", 0, [p("b", false, 1_000)]));
    assert.deepEqual((await store.readAll()).map((r) => [r.replica, r.proxies[0]!.id]).sort(), [["r1", "a"], ["r2", "b"]]);
    await store.withdraw("r1");
    assert.deepEqual((await store.readAll()).map((r) => r.replica), ["r2"]);
    const client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
    await client.put(`/v1/kv/${store.prefix}/bad`, { body: { env: "prod", replica: 7 } });
    const skipped: string[] = [];
    assert.deepEqual((await store.readAll(undefined, (p) => skipped.push(p))).map((r) => r.replica), ["r2"]);
    assert.deepEqual(skipped, [`proxy status (consul key ${store.prefix}/bad): "replica" must be a string and "heartbeatAt" an ISO time`]);
    assert.match(store.description, /keys amphi-\d+\/mesh-proxies\/prod\/$/);
  } finally {
    await consul.close();
  }
});

test("an unreadable proxy-status store is reported as unreachable and hides no policy", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-proxies-${process.pid}-`));
  try {
    const policies = new FileMeshPolicyStore(dir, "prod");
    const policy = { service: "billing", split: [], timeoutMs: 2000, retries: null, circuitBreaker: null, outlierDetection: null, rateLimit: null };
    await policies.write({ env: "prod", revision: null, appliedAt: "", policies: [policy], apps: { billing: "billing" } });
    const store = new FileProxyStatusStore(dir, "prod");
    // Its folder is a file: readdir fails (ENOTDIR), the store cannot be read at all.
    writeFileSync(store.folder, "not a folder");
    const read = await new MeshPolicyReader(policies, store, () => NOW).read({} as never);
    assert.deepEqual(read.resources.map((r) => r.key), ["mesh/billing"], "the applied policy is still read");
    assert.equal(read.unreachable.length, 1);
    assert.equal(read.unreachable[0]!.runtime, "mesh");
    assert.equal(read.unreachable[0]!.target, store.description);
    assert.match(read.unreachable[0]!.reason, /proxy status .* is unreadable: ENOTDIR/);
    assert.equal(read.proxies, undefined, "unknown proxies, not an empty list (which would read as none connected)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

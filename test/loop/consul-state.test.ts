// The Consul state backend against the Consul test double (test/support/consul: a double of Consul's HTTP
// API, not Consul; the suite runs against a real agent when CONSUL_HTTP_ADDR is set): runs in KV, and the
// session lock per environment — one holder at a time across "replicas", the holder named when busy, and
// a takeover when the holder dies (its session expires with the TTL, then the lock delay passes).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { ConsulEnvLocks, ConsulStateStore, consulPrefix } from "../../src/adapters/state/consul-store.js";
import type { RunRecord } from "../../src/model/index.js";

let target: ConsulTestTarget;
let client: ConsulClient;
const prefix = `amphi-test-${process.pid}`;

before(async () => {
  target = await consulTestTarget({ sessionTTLMinMs: 200 });
  client = new ConsulClient({ address: target.url, token: target.token });
});

after(async () => {
  await client.send("DELETE", `/v1/kv/${prefix}`, { query: { recurse: "" } }).catch(() => {});
  await target.close();
});

function run(id: string, env: string): RunRecord {
  return {
    apiVersion: "amphi.dev/v1", kind: "Run", id, env, revision: "a".repeat(40), source: "x", state: "succeeded", createdAt: "2026-01-01T00:00:00.000Z",
    startedAt: null, endedAt: null, summary: { create: 1, update: 0, delete: 0, unchanged: 0, unknown: 0 }, message: "ok", pid: 1,
    tasks: [{ id: `${id}.1`, runId: id, kind: "deploy", target: "g/h", app: "a", wave: 1, keys: ["k"], state: "succeeded", result: "changed", message: "", createdAt: "", startedAt: null, endedAt: null, output: [] }],
  };
}

test("runs are kept in KV: save, get, list newest first by env, find a task", async () => {
  const store = new ConsulStateStore(client, prefix);
  assert.deepEqual(await store.listRuns(), []);
  await store.saveRun(run("r-20260101T000001Z-aaaaaa", "prod"));
  await store.saveRun(run("r-20260101T000002Z-bbbbbb", "staging"));
  await store.saveRun(run("r-20260101T000003Z-cccccc", "prod"));
  assert.equal((await store.getRun("r-20260101T000002Z-bbbbbb"))?.env, "staging");
  assert.equal(await store.getRun("r-nope"), null);
  assert.deepEqual((await store.listRuns({ env: "prod" })).map((r) => r.id), ["r-20260101T000003Z-cccccc", "r-20260101T000001Z-aaaaaa"]);
  assert.equal((await store.listRuns({ limit: 1 }))[0]?.id, "r-20260101T000003Z-cccccc");
  assert.equal((await store.findTask("r-20260101T000001Z-aaaaaa.1"))?.task.kind, "deploy");
  assert.equal(consulPrefix(".amphi"), "amphi");
  assert.equal(consulPrefix("teams/shop/"), "teams/shop");
});

test("one holder per environment across replicas; the busy message names the holder; release hands over", async () => {
  const a = new ConsulEnvLocks(client, prefix, { ttl: "2s", ttlMs: 2000, lockDelay: "0s", pollMs: 50 });
  const b = new ConsulEnvLocks(client, prefix, { ttl: "2s", ttlMs: 2000, lockDelay: "0s", pollMs: 50 });
  try {
    const lease = await a.acquire("prod", { timeoutMs: 0 });
    assert.equal(lease.waitedMs, 0);
    await assert.rejects(b.acquire("prod", { timeoutMs: 150 }), (e: Error) => {
      assert.match(e.message, new RegExp(`^environment prod is being reconciled by pid ${process.pid} on \\S+ since \\d{4}-`));
      return true;
    });
    const other = await b.acquire("staging", { timeoutMs: 0 });
    await other.release();
    setTimeout(() => void lease.release(), 200);
    const next = await b.acquire("prod", { timeoutMs: 5000 });
    assert.ok(next.waitedMs >= 100);
    await next.release();
  } finally {
    await a.close();
    await b.close();
  }
});

test("when the holder dies (its session is no longer renewed) another replica takes over after TTL and lock delay", async () => {
  const dying = new ConsulEnvLocks(client, prefix, { ttl: "500ms", ttlMs: 500, lockDelay: "300ms" });
  const lease = await dying.acquire("prod", { timeoutMs: 0 });
  // Simulate a crash: stop renewing without releasing or destroying anything.
  (dying as unknown as { timer: NodeJS.Timeout | null }).timer && clearInterval((dying as unknown as { timer: NodeJS.Timeout }).timer);
  const survivor = new ConsulEnvLocks(client, prefix, { ttl: "2s", ttlMs: 2000, pollMs: 50 });
  try {
    const t0 = Date.now();
    const taken = await survivor.acquire("prod", { timeoutMs: 10_000 });
    assert.ok(Date.now() - t0 >= 300, "not before the session expired");
    assert.ok(taken.waitedMs > 0);
    await taken.release();
    assert.equal(lease.lost.aborted, false, "the dead holder never learns (it is dead)");
  } finally {
    await survivor.close();
  }
});

test("a holder whose session is destroyed loses its lease (the running cycle is aborted)", async () => {
  const locks = new ConsulEnvLocks(client, prefix, { ttl: "1s", ttlMs: 400, lockDelay: "0s" });
  try {
    const lease = await locks.acquire("staging", { timeoutMs: 0 });
    const sid = await (locks as unknown as { session: Promise<string> }).session;
    await client.put(`/v1/session/destroy/${sid}`);
    // Waits for the abort itself (a fixed 600 ms could pass before the next renewal on a loaded machine); 30 s
    // is a safety net only.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      if (lease.lost.aborted) resolve();
      lease.lost.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    assert.equal(lease.lost.aborted, true);
    assert.match(String(lease.lost.reason), /the Consul session holding the lock is gone/);
  } finally {
    await locks.close();
  }
});

// Consul watches against the double (or CONSUL_HTTP_ADDR; outage and index-reset tests need the double):
// a change arrives within 1 s, index-only wake-ups deliver nothing, an index that goes backwards resets to
// a full read, an agent that goes away and comes back costs errors with growing backoff but no crash, an
// agent that answers blocking queries at once (or with index 0) costs at most a read a second and little
// CPU while a change or a moved index is still followed at once, and stop() ends a blocked request at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConsulClient, deregister, failCheck, passCheck, register, watchCatalog, watchService, type ServiceInstance, type Watch } from "../../src/adapters/consul/index.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { eventually, registrationFixture, uniqueName } from "./helpers.js";

describe("Consul watches", () => {
  let t: ConsulTestTarget;
  let client: ConsulClient;
  const ids: string[] = [];
  const watches: Watch[] = [];
  const reg = (service: string, host: string, over: Parameters<typeof registrationFixture>[0] | object = {}) => {
    const r = registrationFixture({ service, host, ...over });
    ids.push(r.id);
    return r;
  };
  const track = (w: Watch): Watch => {
    watches.push(w);
    return w;
  };

  before(async () => {
    t = await consulTestTarget();
    client = new ConsulClient({ address: t.url, token: t.token });
  });
  after(async () => {
    for (const w of watches) w.stop();
    await Promise.all(watches.map((w) => w.done));
    if (t.double) await t.double.resume();
    for (const id of ids) await deregister(client, id).catch(() => {});
    await t.close();
  });

  it("delivers the first answer, then a new service within 1 s", async () => {
    const seen: Record<string, string[]>[] = [];
    const errors: Error[] = [];
    const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: (e) => errors.push(e) }));
    await w.ready;
    assert.equal(seen.length, 1);
    const name = uniqueName("new");
    const t0 = performance.now();
    await register(client, reg(name, "vm-1"));
    await eventually("the change", () => seen.some((s) => name in s));
    assert.ok(performance.now() - t0 < 1000);
    assert.deepEqual(seen.at(-1)![name], ["amphi", "app:" + name, "env:staging", "version:1.0.0"]);
    assert.deepEqual(errors, []);
  });

  it("delivers nothing when Consul wakes it with a new index but the same data", async () => {
    const name = uniqueName("same");
    await register(client, reg(name, "vm-1"));
    const seen: Record<string, string[]>[] = [];
    const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: () => {} }));
    await w.ready;
    const before = t.double?.requests.length ?? 0;
    // Another instance with the same tags: the services index moves, the name → tags map does not.
    await register(client, reg(name, "vm-2"));
    await new Promise((r) => setTimeout(r, 300));
    if (t.double) {
      const woke = t.double.requests.slice(before).filter((r) => r.path === "/v1/catalog/services");
      assert.ok(woke.length >= 2, "the blocking query was answered and re-issued");
    }
    assert.equal(seen.length, 1, "no duplicate delivery");
  });

  it("watches a service's instances: passing only, check changes delivered, output-only changes not", async () => {
    const name = uniqueName("svc");
    const r = reg(name, "vm-1", { address: "10.1.0.1" });
    await register(client, r);
    const seen: ServiceInstance[][] = [];
    const w = track(watchService(client, name, { passingOnly: true, onChange: (s) => seen.push(s), onError: () => {} }));
    await w.ready;
    assert.deepEqual(seen, [[]], "a new TTL check is critical: not passing yet");
    await passCheck(client, r.check.checkId, "first");
    await eventually("the instance to pass", () => seen.length === 2);
    assert.deepEqual(seen[1]!.map((i: ServiceInstance) => [i.id, i.address, i.port, i.status]), [[r.id, "10.1.0.1", 9100, "passing"]]);
    await passCheck(client, r.check.checkId, "second");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 2, "a new output alone changes nothing the watcher delivers");
  });

  it("resets to a full read when the index goes backwards, and keeps delivering", async (ctx) => {
    if (!t.double) return ctx.skip("needs the double's setIndex");
    const d = t.double;
    const seen: Record<string, string[]>[] = [];
    const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: () => {} }));
    await w.ready;
    await new Promise((r) => setTimeout(r, 100)); // the blocking query is pending: setIndex answers it
    const before = d.requests.length;
    d.setIndex(2);
    await eventually("a request without index after the reset", () => d.requests.slice(before).some((r) => r.path === "/v1/catalog/services" && !("index" in r.query)));
    const name = uniqueName("after-reset");
    await register(client, reg(name, "vm-1"));
    // The read after an index that went backwards keeps 1 s (minIntervalMs) from the one before: allow for it.
    await eventually("the change after the reset", () => seen.some((s) => name in s));
    const later = d.requests.slice(before).filter((r) => r.path === "/v1/catalog/services").map((r) => Number(r.query.index ?? 0));
    assert.ok(later.every((i) => i < 1000), `indexes after the reset stay low: ${later.join(",")}`);
  });

  it("survives dropped connections and an agent that is down, backing off, then catches up", async (ctx) => {
    if (!t.double) return ctx.skip("needs the double's pause/resume");
    const d = t.double;
    const seen: Record<string, string[]>[] = [];
    const errors: { message: string; retry: number }[] = [];
    const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: (e, retry) => errors.push({ message: e.message, retry }), maxBackoffMs: 800 }));
    await w.ready;
    await new Promise((r) => setTimeout(r, 100)); // the blocking query is on its connection: the drop cuts it
    d.dropConnections();
    await eventually("an error for the dropped connection", () => errors.length >= 1);
    await d.pause();
    await eventually("several failed retries", () => errors.length >= 5);
    const delays = errors.map((e) => e.retry);
    assert.ok(delays.slice(1).some((x, i) => x > delays[i]!), `backoff grows: ${delays.join(",")}`);
    assert.ok(delays.every((x) => x <= 800), "capped");
    assert.match(errors.at(-1)!.message, new RegExp(`^consul ${t.url.replace(/\./g, "\\.")}: GET /v1/catalog/services failed: connect ECONNREFUSED`));
    const name = uniqueName("while-down");
    await d.resume();
    await register(client, reg(name, "vm-1"));
    await eventually("the change after the outage", () => seen.some((s) => name in s));
  });

  /** Stops the watches of earlier tests, so the double's requests are only the next watch's. */
  const stopEarlier = async (): Promise<void> => {
    const earlier = watches.splice(0);
    for (const w of earlier) w.stop();
    await Promise.all(earlier.map((w) => w.done));
  };
  const catalogReads = (d: NonNullable<typeof t.double>, from: number) => d.requests.slice(from).filter((r) => r.path === "/v1/catalog/services");

  it("spaces out reads when Consul answers blocking queries at once with an unchanged index: bounded requests, low CPU", async (ctx) => {
    if (!t.double) return ctx.skip("needs the double's setQuirks");
    const d = t.double;
    await stopEarlier();
    d.setQuirks({ blockingAnswersAtOnce: true });
    try {
      const seen: Record<string, string[]>[] = [];
      const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: () => {} }));
      await w.ready;
      const from = d.requests.length;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const cpuMs = ((c) => (c.user + c.system) / 1000)(process.cpuUsage(cpu0));
      const wallMs = performance.now() - t0;
      const reads = catalogReads(d, from);
      // At most one read per second (the default minimum), plus one for the window's edges.
      assert.ok(reads.length <= Math.floor(wallMs / 1000) + 2, `${reads.length} reads in ${Math.round(wallMs)} ms`);
      assert.ok(reads.length >= 1, "the watch keeps reading");
      assert.ok(reads.every((r) => Number(r.query.index) > 0), "blocking queries (with an index)");
      assert.ok(cpuMs < wallMs * 0.25, `CPU ${Math.round(cpuMs)} ms in ${Math.round(wallMs)} ms`);
      assert.equal(seen.length, 1, "no change, no delivery");
      // A change is still seen, within the spacing.
      const name = uniqueName("at-once");
      await register(client, reg(name, "vm-1"));
      await eventually("the change while answers come at once", () => seen.some((s) => name in s));
    } finally {
      d.setQuirks({ blockingAnswersAtOnce: false });
    }
  });

  it("treats an X-Consul-Index of 0 as 1 (the next query blocks) and spaces the reads out", async (ctx) => {
    if (!t.double) return ctx.skip("needs the double's setQuirks");
    const d = t.double;
    await stopEarlier();
    d.setQuirks({ fixedIndex: 0 });
    try {
      const seen: Record<string, string[]>[] = [];
      const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: () => {} }));
      await w.ready;
      const from = d.requests.length;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const wallMs = performance.now() - t0;
      const reads = catalogReads(d, from);
      assert.ok(reads.length <= Math.floor(wallMs / 1000) + 2, `${reads.length} reads in ${Math.round(wallMs)} ms`);
      assert.ok(reads.some((r) => r.query.index === "1"), `an index of 0 is sent back as 1: ${reads.map((r) => r.query.index ?? "none").join(",")}`);
      assert.ok(reads.every((r) => r.query.index !== "0"), "never index=0");
      assert.equal(seen.length, 1);
    } finally {
      d.setQuirks({ fixedIndex: null });
    }
  });

  it("re-reads at once after a real change, however long the minimum between unchanged reads", async () => {
    await stopEarlier();
    const seen: Record<string, string[]>[] = [];
    const w = track(watchCatalog(client, { onChange: (s) => seen.push(s), onError: () => {}, minIntervalMs: 60_000 }));
    await w.ready;
    const a = uniqueName("burst-a");
    const b = uniqueName("burst-b");
    await register(client, reg(a, "vm-1"));
    await eventually("the first change", () => seen.some((s) => a in s));
    await register(client, reg(b, "vm-1"));
    // Far below the 60 s minimum: the read after a change was not held back.
    await eventually("the second change right after the first", () => seen.some((s) => b in s));
  });

  it("follows an index that moved at once: an output-only update, then a failure, then a pass are all seen", async () => {
    await stopEarlier();
    const name = uniqueName("flips");
    const r = reg(name, "vm-1");
    await register(client, r);
    await passCheck(client, r.check.checkId, "up");
    const seen: ServiceInstance[][] = [];
    const w = track(watchService(client, name, { onChange: (s) => seen.push(s), onError: () => {}, minIntervalMs: 60_000 }));
    await w.ready;
    assert.deepEqual(seen.map((s) => s[0]?.status), ["passing"]);
    await passCheck(client, r.check.checkId, "still up"); // moves the index, not what the watch delivers
    await failCheck(client, r.check.checkId, "down");
    await eventually("the failure after an index-only wake-up", () => seen.at(-1)?.[0]?.status === "critical");
    await passCheck(client, r.check.checkId, "up again");
    await eventually("the pass after the failure", () => seen.at(-1)?.[0]?.status === "passing");
    assert.deepEqual(seen.map((s) => s[0]?.status), ["passing", "critical", "passing"]);
  });

  it("stop() ends a blocked request at once", async () => {
    const w = watchCatalog(client, { onChange: () => {}, onError: () => {}, waitSeconds: 60 });
    await w.ready;
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    w.stop();
    await w.done;
    assert.ok(performance.now() - t0 < 200, `stopped in ${performance.now() - t0} ms`);
  });
});

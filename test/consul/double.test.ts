// The Consul double's semantics (the same assertions hold for a real agent at CONSUL_HTTP_ADDR; tests of
// double-only controls skip there): registration and catalog, blocking queries (wake on change, wait
// elapses, unrelated writes do not wake), a monotonic index, TTL → critical, deregistration after critical,
// ACLs, KV with sessions, and an index reset.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startConsulDouble, consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { call, eventually, uniqueName } from "./helpers.js";

const reg = (name: string, id: string, extra: Record<string, unknown> = {}) => ({
  ID: id,
  Name: name,
  Address: "10.0.0.7",
  Port: 9100,
  Tags: ["amphi", "env:test"],
  Meta: { "amphi-app": name },
  Check: { CheckID: `service:${id}`, TTL: "30s", DeregisterCriticalServiceAfter: "1m", Notes: "kept passing by a test" },
  ...extra,
});

describe("Consul double: services, catalog, health, blocking queries", () => {
  let t: ConsulTestTarget;
  let base: string;
  const put = (path: string, body?: unknown) => call(base, "PUT", path, { token: t.token, body });
  const get = (path: string) => call(base, "GET", path, { token: t.token });
  const cleanup: string[] = [];
  const registered = async (name: string, id: string, extra?: Record<string, unknown>) => {
    cleanup.push(id);
    const r = await put("/v1/agent/service/register", reg(name, id, extra));
    assert.equal(r.status, 200, r.text);
  };

  before(async () => {
    t = await consulTestTarget({ reapIntervalMs: 50, deregisterMinMs: 0 });
    base = t.url;
  });
  after(async () => {
    for (const id of cleanup) await put(`/v1/agent/service/deregister/${id}`).catch(() => {});
    await t.close();
  });

  it("registers a service with a TTL check that starts critical, and shows it everywhere", async () => {
    const name = uniqueName("web");
    await registered(name, `${name}-1`);
    const agent = (await get("/v1/agent/services")).json as Record<string, { Service: string; Port: number; Tags: string[] }>;
    assert.equal(agent[`${name}-1`]?.Service, name);
    const catalog = await get("/v1/catalog/services");
    assert.ok(catalog.index > 0);
    assert.deepEqual((catalog.json as Record<string, string[]>)[name], ["amphi", "env:test"]);
    const inst = (await get(`/v1/catalog/service/${name}`)).json as { ServiceID: string; ServiceAddress: string; ServicePort: number }[];
    assert.deepEqual(inst.map((i) => [i.ServiceID, i.ServiceAddress, i.ServicePort]), [[`${name}-1`, "10.0.0.7", 9100]]);
    const health = (await get(`/v1/health/service/${name}`)).json as { Checks: { CheckID: string; Status: string; Notes: string; Definition: { DeregisterCriticalServiceAfter: string } }[] }[];
    const check = health[0]!.Checks.find((c) => c.CheckID === `service:${name}-1`)!;
    assert.deepEqual([check.Status, check.Notes, check.Definition.DeregisterCriticalServiceAfter], ["critical", "kept passing by a test", "1m0s"]);
    assert.deepEqual((await get(`/v1/health/service/${name}?passing=1`)).json, [], "critical instances are filtered by ?passing");
    assert.equal((await put(`/v1/agent/check/pass/service:${name}-1?note=all%20good`)).status, 200);
    const passing = (await get(`/v1/health/service/${name}?passing=1`)).json as { Checks: { CheckID: string; Output: string }[] }[];
    assert.equal(passing.length, 1);
    assert.equal(passing[0]!.Checks.find((c) => c.CheckID === `service:${name}-1`)!.Output, "all good");
    assert.equal(((await get(`/v1/health/service/${name}?tag=nope`)).json as unknown[]).length, 0);
    const checks = (await get(`/v1/health/checks/${name}`)).json as { Status: string }[];
    assert.deepEqual(checks.map((c) => c.Status), ["passing"]);
  });

  it("answers 404 for unknown service and check IDs, 405 for a GET on a write endpoint", async () => {
    const r = await put("/v1/agent/service/deregister/no-such-service-id");
    assert.equal(r.status, 404);
    assert.match(r.text, /Unknown service ID/);
    assert.equal((await put("/v1/agent/check/pass/no-such-check")).status, 404);
    assert.equal((await get("/v1/agent/check/pass/no-such-check")).status, 405);
  });

  it("updates a check with a body, lists agent checks, and drops checks with replace-existing-checks", async () => {
    const name = uniqueName("upd");
    const id = `${name}-1`;
    await registered(name, id, { Checks: [{ CheckID: `${id}:extra`, TTL: "30s" }] });
    const upd = await put(`/v1/agent/check/update/service:${id}`, { Status: "warning", Output: "slow" });
    assert.equal(upd.status, 200, upd.text);
    const checks = (await get("/v1/agent/checks")).json as Record<string, { Status: string; Output: string; ServiceID: string }>;
    assert.deepEqual([checks[`service:${id}`]?.Status, checks[`service:${id}`]?.Output], ["warning", "slow"]);
    assert.equal(checks[`${id}:extra`]?.ServiceID, id);
    assert.equal((await put(`/v1/agent/check/update/service:${id}`, { Status: "bogus" })).status, 400);
    await registered(name, id); // without the query: the extra check stays
    assert.ok(`${id}:extra` in ((await get("/v1/agent/checks")).json as object));
    assert.equal((await put("/v1/agent/service/register?replace-existing-checks=true", reg(name, id))).status, 200);
    const after = (await get("/v1/agent/checks")).json as Record<string, unknown>;
    assert.deepEqual(Object.keys(after).filter((k) => k.includes(id)), [`service:${id}`]);
  });

  it("blocks until the watched data changes, and answers on the change, long before its wait", async () => {
    const name = uniqueName("blk");
    const first = await get("/v1/catalog/services");
    // Woken by the write, not by the end of the wait: a 60 s wait against a 30 s bound tells the two apart on any
    // machine (a 1 s bound against a 10 s wait was a load test). The time is printed.
    const pending = get(`/v1/catalog/services?index=${first.index}&wait=60s`);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await registered(name, `${name}-1`);
    const woke = await pending;
    const ms = performance.now() - t0;
    console.log(`# blocking query woken ${ms.toFixed(0)} ms after the write`);
    assert.ok(ms < 30_000, `woken by the write (after ${ms.toFixed(0)} ms)`);
    assert.ok(woke.index > first.index);
    assert.ok(name in (woke.json as object));
  });

  it("blocks for `wait` (plus at most wait/16 of jitter) when nothing changes", async () => {
    const first = await get("/v1/catalog/services");
    const r = await get(`/v1/catalog/services?index=${first.index}&wait=400ms`);
    assert.ok(r.ms >= 390, `returned after ${r.ms} ms`);
    // Ends at the wait, not Consul's default 5 min: the slack above wait + jitter is for a loaded machine.
    assert.ok(r.ms < 400 * (17 / 16) + 10_000, `returned after ${r.ms} ms`);
    assert.equal(r.index, first.index);
  });

  it("is not woken by a write to another service", async () => {
    const a = uniqueName("quiet");
    const b = uniqueName("noisy");
    await registered(a, `${a}-1`);
    const first = await get(`/v1/health/service/${a}`);
    const pending = get(`/v1/health/service/${a}?index=${first.index}&wait=600ms`);
    await new Promise((r) => setTimeout(r, 100));
    await registered(b, `${b}-1`);
    await put(`/v1/agent/check/pass/service:${b}-1`);
    const r = await pending;
    assert.ok(r.ms >= 590, `woken after ${r.ms} ms by an unrelated write`);
    assert.equal(r.index, first.index);
  });

  it("keeps the index monotonic across writes", async () => {
    const name = uniqueName("mono");
    let last = (await get("/v1/catalog/services")).index;
    for (let i = 0; i < 5; i++) {
      await registered(name, `${name}-${i}`);
      const now = (await get(`/v1/catalog/services`)).index;
      assert.ok(now > last, `${now} > ${last}`);
      last = now;
    }
    for (const p of [`/v1/catalog/service/${name}`, `/v1/health/service/${name}`, `/v1/health/checks/${name}`]) {
      assert.ok((await get(p)).index > 0, `${p} carries X-Consul-Index`);
    }
  });

  it("turns a TTL check critical when it is not refreshed within its TTL", async () => {
    const name = uniqueName("ttl");
    await registered(name, `${name}-1`, { Check: { CheckID: `service:${name}-1`, TTL: "300ms" } });
    await put(`/v1/agent/check/pass/service:${name}-1?note=fine`);
    const status = async () => ((await get(`/v1/health/checks/${name}`)).json as { Status: string; Output: string }[])[0]!;
    assert.equal((await status()).Status, "passing");
    const expired = await eventually("the TTL to expire", async () => ((await status()).Status === "critical" ? status() : null));
    assert.match(expired.Output, /^TTL expired/);
  });

  it("keeps a check's status when the service is registered again", async () => {
    const name = uniqueName("again");
    await registered(name, `${name}-1`);
    await put(`/v1/agent/check/pass/service:${name}-1`);
    await registered(name, `${name}-1`, { Tags: ["amphi", "env:test", "version:2"] });
    const checks = (await get(`/v1/health/checks/${name}`)).json as { Status: string; ServiceTags: string[] }[];
    assert.deepEqual(checks.map((c) => c.Status), ["passing"]);
  });

  it("removes a service whose check stayed critical for DeregisterCriticalServiceAfter (double: fast reaper)", { skip: !process.env.CONSUL_HTTP_ADDR ? false : "Consul's floor is 1 minute and its reaper runs every 30 s" }, async () => {
    const name = uniqueName("reap");
    await registered(name, `${name}-1`, { Check: { CheckID: `service:${name}-1`, TTL: "10s", DeregisterCriticalServiceAfter: "200ms" } });
    await eventually("the reaper to deregister it", async () => ((await get(`/v1/health/service/${name}`)).json as unknown[]).length === 0);
    const agent = (await get("/v1/agent/services")).json as Record<string, unknown>;
    assert.equal(`${name}-1` in agent, false);
  });

  it("answers blocked queries with the lower index after an index reset (double only)", async (ctx) => {
    if (!t.double) return ctx.skip("double-only control");
    const first = await get("/v1/catalog/services");
    const pending = get(`/v1/catalog/services?index=${first.index}&wait=60s`);
    await new Promise((r) => setTimeout(r, 100));
    t.double.setIndex(1);
    const r = await pending;
    assert.ok(r.ms < 30_000, `answered on the reset, not at the 60 s wait (${r.ms} ms)`);
    assert.equal(r.index, 1);
  });
});

describe("Consul double: ACLs", () => {
  const token = "3b6a9c1e-7f0d-4c8b-9e2a-5d1f0a6b7c8d";
  let base: string;
  let close: () => Promise<void>;
  before(async () => {
    const d = await startConsulDouble({ token });
    base = d.url;
    close = () => d.close();
  });
  after(() => close());

  it("refuses writes without a token (Permission denied) and with a wrong one (ACL not found)", async () => {
    const none = await call(base, "PUT", "/v1/agent/service/register", { body: reg("acl", "acl-1") });
    assert.equal(none.status, 403);
    assert.match(none.text, /^Permission denied/);
    const wrong = await call(base, "PUT", "/v1/agent/service/register", { body: reg("acl", "acl-1"), token: "not-the-token" });
    assert.deepEqual([wrong.status, wrong.text], [403, "ACL not found"]);
    assert.equal((await call(base, "PUT", "/v1/agent/service/register", { body: reg("acl", "acl-1"), token })).status, 200);
    assert.equal((await call(base, "PUT", `/v1/agent/check/pass/service:acl-1?token=${token}`)).status, 200, "?token= works too");
  });

  it("filters list reads for the anonymous token and says so", async () => {
    const anon = await call(base, "GET", "/v1/catalog/services");
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.json, {});
    assert.equal(anon.headers.get("x-consul-results-filtered-by-acls"), "true");
    const ok = await call(base, "GET", "/v1/catalog/services", { token });
    assert.ok("acl" in (ok.json as object));
    assert.equal((await call(base, "GET", "/v1/kv/x", { token: "wrong" })).status, 403);
  });
});

describe("Consul double: KV and sessions", () => {
  let t: ConsulTestTarget;
  let prefix: string;
  const kv = (method: string, path: string, raw?: string) => call(t.url, method, `/v1/kv/${prefix}/${path}`, { token: t.token, raw });
  before(async () => {
    t = await consulTestTarget({ sessionTTLMinMs: 100 });
    prefix = uniqueName("amphi-test");
  });
  after(async () => {
    await call(t.url, "DELETE", `/v1/kv/${prefix}?recurse`, { token: t.token }).catch(() => {});
    await t.close();
  });

  it("puts, gets (base64, raw, recurse, keys) and deletes, with cas", async () => {
    assert.equal((await kv("GET", "a")).status, 404);
    assert.equal((await kv("PUT", "a?cas=0", "one")).json, true);
    assert.equal((await kv("PUT", "a?cas=0", "two")).json, false, "cas=0 only creates");
    const got = await kv("GET", "a");
    const [entry] = got.json as { Value: string; ModifyIndex: number }[];
    assert.equal(Buffer.from(entry!.Value, "base64").toString(), "one");
    assert.equal(got.index, entry!.ModifyIndex);
    assert.equal((await kv("PUT", `a?cas=${entry!.ModifyIndex}`, "two")).json, true);
    assert.equal((await kv("PUT", `a?cas=${entry!.ModifyIndex}`, "three")).json, false, "stale cas");
    assert.equal((await kv("GET", "a?raw")).text, "two");
    await kv("PUT", "dir/b", "b");
    assert.deepEqual(((await kv("GET", "?recurse")).json as { Key: string }[]).map((e) => e.Key), [`${prefix}/a`, `${prefix}/dir/b`]);
    assert.deepEqual((await kv("GET", "?keys&separator=/")).json, [`${prefix}/a`, `${prefix}/dir/`]);
    assert.equal((await kv("DELETE", "a")).json, true);
    assert.equal((await kv("GET", "a")).status, 404);
  });

  it("wakes a blocking query on a key when it is written", async () => {
    await kv("PUT", "watched", "1");
    const first = await kv("GET", "watched");
    const pending = kv("GET", `watched?index=${first.index}&wait=60s`);
    await new Promise((r) => setTimeout(r, 100));
    await kv("PUT", "watched", "2");
    const r = await pending;
    assert.ok(r.ms < 30_000 && r.index > first.index, `woken by the write, not at the 60 s wait (${r.ms} ms)`);
  });

  it("locks with sessions: acquire, contention, release, and release on destroy", async () => {
    const mk = async () => ((await call(t.url, "PUT", "/v1/session/create", { token: t.token, body: { Name: "amphi-test", LockDelay: "0s", TTL: "10s" } })).json as { ID: string }).ID;
    const [s1, s2] = [await mk(), await mk()];
    assert.equal((await kv("PUT", `lock?acquire=${s1}`, "leader-1")).json, true);
    assert.equal((await kv("PUT", `lock?acquire=${s2}`, "leader-2")).json, false, "held by s1");
    const held = ((await kv("GET", "lock")).json as { Session: string; LockIndex: number }[])[0]!;
    assert.deepEqual([held.Session, held.LockIndex], [s1, 1]);
    assert.equal((await kv("PUT", `lock?release=${s2}`)).json, false, "s2 does not hold it");
    assert.equal((await kv("PUT", `lock?release=${s1}`)).json, true);
    assert.equal((await kv("PUT", `lock?acquire=${s2}`, "leader-2")).json, true);
    const info = (await call(t.url, "GET", `/v1/session/info/${s2}`, { token: t.token })).json as { ID: string; Behavior: string }[];
    assert.deepEqual(info.map((s) => [s.ID, s.Behavior]), [[s2, "release"]]);
    await call(t.url, "PUT", `/v1/session/destroy/${s2}`, { token: t.token });
    assert.equal(((await kv("GET", "lock")).json as { Session?: string }[])[0]!.Session, undefined, "destroy releases its locks");
    assert.deepEqual((await call(t.url, "GET", `/v1/session/info/${s2}`, { token: t.token })).json, []);
    await call(t.url, "PUT", `/v1/session/destroy/${s1}`, { token: t.token });
  });

  it("invalidates a session that is not renewed within 2 × TTL (double: short TTL)", async (ctx) => {
    if (!t.double) return ctx.skip("Consul's minimum session TTL is 10 s");
    const id = ((await call(t.url, "PUT", "/v1/session/create", { body: { TTL: "100ms", LockDelay: "0s" } })).json as { ID: string }).ID;
    assert.equal((await kv("PUT", `ttl-lock?acquire=${id}`, "x")).json, true);
    await eventually("the session to expire", async () => ((await call(t.url, "GET", `/v1/session/info/${id}`)).json as unknown[]).length === 0);
    assert.equal(((await kv("GET", "ttl-lock")).json as { Session?: string }[])[0]!.Session, undefined);
  });
});

// The Consul adapter against the double (or CONSUL_HTTP_ADDR): register/deregister/read back, render →
// register → readRegistry → diff finds nothing to do, check status, the registry task handler's idempotence,
// and errors that name the agent but never the token.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ConsulClient,
  ConsulError,
  consulClientFor,
  deregister,
  failCheck,
  passCheck,
  readRegistry,
  register,
  RegistryTaskHandler,
  services,
} from "../../src/adapters/consul/index.js";
import { diff } from "../../src/diff/index.js";
import type { EnvironmentModel, Registration, TaskRecord } from "../../src/model/index.js";
import type { TaskSpec } from "../../src/plan/tasks.js";
import { render } from "../../src/render/index.js";
import { closedPort } from "../support/kubeconfig.js";
import { consulTestTarget, startConsulDouble, type ConsulTestTarget } from "../support/consul/index.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";
import { registrationFixture, uniqueName } from "./helpers.js";

const SPELLING = { checkTTL: "15s", deregisterCriticalAfter: "1m" };

function task(spec: TaskSpec): TaskRecord & { spec: TaskSpec } {
  return {
    id: "t1", runId: "r1", kind: spec.kind, target: spec.target, app: spec.app, wave: 1, keys: spec.keys, state: "running", result: null,
    message: "", createdAt: "", startedAt: null, endedAt: null, output: [], spec,
  };
}
const ctx = { signal: new AbortController().signal, log: () => {} };

describe("Consul adapter", () => {
  let t: ConsulTestTarget;
  let client: ConsulClient;
  let env: string;
  const ids: string[] = [];
  const reg = (over: Parameters<typeof registrationFixture>[0]): Registration => {
    const r = registrationFixture({ env, ...over });
    ids.push(r.id);
    return r;
  };

  before(async () => {
    t = await consulTestTarget();
    client = new ConsulClient({ address: t.url, token: t.token });
    env = uniqueName("env");
  });
  after(async () => {
    for (const id of ids) await deregister(client, id).catch(() => {});
    await t.close();
  });

  it("registers, reads back the same Registration with its check status, and deregisters", async () => {
    const svc = uniqueName("billing");
    const r1 = reg({ service: svc, host: "vm-1", address: "10.0.0.1" });
    const r2 = reg({ service: svc, host: "vm-2", address: "10.0.0.2", check: { checkId: "", ttl: "1m", deregisterCriticalServiceAfter: "90s", notes: "n" } });
    r2.check.checkId = `service:${r2.id}`;
    await register(client, r1);
    await register(client, r2);
    const back = await services(client, env, { checkTTL: "1m", deregisterCriticalAfter: "90s" });
    assert.deepEqual(back.map((b) => b.registration.id), [r1.id, r2.id]);
    assert.deepEqual(back[1]!.registration, r2, "Consul's 1m0s / 1m30s read back in the configured spelling where equal");
    const { ttl, deregisterCriticalServiceAfter } = back[0]!.registration.check;
    assert.deepEqual([ttl, deregisterCriticalServiceAfter], ["15s", "1m0s"], "unequal to the configured values: Go's spelling");
    assert.deepEqual(back.map((b) => b.check), ["critical", "critical"], "a new TTL check starts critical");
    await passCheck(client, r1.check.checkId, "GET /health: 200");
    const passed = await services(client, env, SPELLING);
    assert.deepEqual([passed[0]!.check, passed[0]!.output], ["passing", "GET /health: 200"]);
    await failCheck(client, r1.check.checkId, "GET /health: 503");
    assert.equal((await services(client, env, SPELLING))[0]!.check, "critical");
    assert.equal(await deregister(client, r1.id), true);
    assert.equal(await deregister(client, r1.id), false, "already gone");
    assert.deepEqual((await services(client, env, SPELLING)).map((b) => b.registration.id), [r2.id]);
  });

  it("reads only amphi-tagged registrations of its environment", async () => {
    const svc = uniqueName("mixed");
    const mine = reg({ service: svc, host: "vm-1" });
    const other = reg({ service: svc, host: "vm-2", env: `${env}-other` });
    const untagged = reg({ service: svc, host: "vm-3", tags: [`env:${env}`] });
    for (const r of [mine, other, untagged]) await register(client, r);
    const ids = (await services(client, env, SPELLING)).map((b) => b.registration.id);
    assert.ok(ids.includes(mine.id));
    assert.ok(!ids.includes(other.id) && !ids.includes(untagged.id));
  });

  it("render → register → readRegistry → diff: no changes for the registry, and the check status observed", async () => {
    const base = modelFixture();
    const envName = uniqueName("prod");
    const model = withEnvironment(base, (e) => ({ ...e, name: envName, consul: { ...e.consul, address: t.url } }));
    const environment = model.environments.find((e) => e.name === envName)!;
    const desired = render(model, envName);
    const regs = desired.resources.flatMap((r) => (r.runtime === "consul" ? [r.registration] : []));
    assert.ok(regs.length >= 4);
    for (const r of regs) {
      ids.push(r.id);
      await register(client, r);
    }
    await passCheck(client, regs[0]!.check.checkId, "ok");
    const { resources } = await readRegistry(environment, { client });
    assert.deepEqual(resources.map((r) => r.key), desired.resources.filter((r) => r.runtime === "consul").map((r) => r.key));
    assert.deepEqual(resources.map((r) => r.target), desired.resources.filter((r) => r.runtime === "consul").map((r) => r.target));
    assert.equal(resources.find((r) => r.runtime === "consul" && r.registration.id === regs[0]!.id)?.observed?.check, "passing");
    const consulOnly = { ...desired, resources: desired.resources.filter((r) => r.runtime === "consul") };
    const result = diff(consulOnly, { env: envName, observedAt: null, resources, unreachable: [] }, { ignore: [] });
    assert.deepEqual(result.changes, []);
    assert.equal(result.unchanged.length, regs.length);
  });

  it("RegistryTaskHandler: register is changed, then unchanged; a new version is changed; deregister twice", async () => {
    const handler = new RegistryTaskHandler({ client, env });
    const r = reg({ service: uniqueName("tasked"), host: "vm-1" });
    const spec = (registration: Registration): TaskSpec => ({ kind: "register", target: "legacy/vm-1", app: r.app, wave: 1, keys: [`consul/${r.service}/${r.id}`], payload: { kind: "register", registration } });
    assert.equal((await handler.run(task(spec(r)), ctx)).result, "changed");
    await passCheck(client, r.check.checkId, "ok");
    const again = await handler.run(task(spec(r)), ctx);
    assert.deepEqual(again.result, "unchanged");
    assert.equal((await services(client, env, SPELLING)).find((b) => b.registration.id === r.id)?.check, "passing", "no write: the check kept its status");
    const v2 = { ...r, tags: [...r.tags.slice(0, 3), "version:2.0.0"], meta: { ...r.meta, "amphi-version": "2.0.0" } };
    assert.equal((await handler.run(task(spec(v2)), ctx)).result, "changed");
    const del: TaskSpec = { kind: "deregister", target: "legacy/vm-1", app: r.app, wave: 1, keys: [], payload: { kind: "deregister", id: r.id, service: r.service } };
    assert.equal((await handler.run(task(del), ctx)).result, "changed");
    assert.deepEqual(await handler.run(task(del), ctx), { result: "unchanged", message: `${r.id} is not registered` });
  });
});

describe("Consul adapter errors", () => {
  const token = "5f1c0d2e-secret-token-9a8b7c6d";

  it("names the agent and never the token when the token is wrong or missing", async () => {
    const d = await startConsulDouble({ token });
    try {
      const wrong = new ConsulClient({ address: d.url, token: `${token}-wrong` });
      await assert.rejects(register(wrong, registrationFixture({ service: "acl" })), (e: unknown) => {
        assert.ok(e instanceof ConsulError);
        assert.equal(e.message, `consul ${d.url}: PUT /v1/agent/service/register answered 403: ACL not found`);
        assert.ok(!e.message.includes(token) && !String(e.stack).includes(token));
        return true;
      });
      const anonymous = new ConsulClient({ address: d.url });
      await assert.rejects(services(anonymous, "staging", SPELLING), /results filtered by ACLs/);
      const ok = new ConsulClient({ address: d.url, token });
      await register(ok, registrationFixture({ service: "acl" }));
      assert.equal((await services(ok, "staging", SPELLING)).length, 1);
      assert.ok(d.requests.every((r) => !JSON.stringify(r).includes(token)));
    } finally {
      await d.close();
    }
  });

  it("takes the token from consul.tokenEnv, and says which variable is missing", async () => {
    const consul: EnvironmentModel["consul"] = { enabled: true, address: "http://127.0.0.1:1", datacenter: null, tokenEnv: "AMPHI_TEST_CONSUL_TOKEN", checkTTL: "15s", deregisterCriticalAfter: "1m" };
    assert.throws(() => consulClientFor(consul, {}), /^ConsulError: consul http:\/\/127\.0\.0\.1:1: no ACL token: environment variable AMPHI_TEST_CONSUL_TOKEN \(consul\.tokenEnv\) is not set$/);
    const d = await startConsulDouble({ token });
    try {
      const client = consulClientFor({ ...consul, address: d.url }, { AMPHI_TEST_CONSUL_TOKEN: token });
      await register(client, registrationFixture({ service: "from-env" }));
    } finally {
      await d.close();
    }
  });

  it("readRegistry throws an error naming the Consul address when Consul is unreachable", async () => {
    const port = await closedPort();
    const env = modelFixture().environments[0]!;
    const address = `http://127.0.0.1:${port}`;
    await assert.rejects(readRegistry({ ...env, consul: { ...env.consul, address } }), (e: unknown) => {
      assert.ok(e instanceof ConsulError);
      assert.equal(e.status, null);
      assert.match(e.message, new RegExp(`^consul ${address.replace(/\./g, "\\.")}: GET /v1/catalog/services failed: connect ECONNREFUSED`));
      return true;
    });
  });
});

// The secret and registry hooks: the stages find secret values and service registrations through the
// runtime list (runtimes/secrets.ts, runtimes/registrations.ts), not by naming a runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ActualResource } from "../../src/model/index.js";
import { RUNTIME_ORDER } from "../../src/runtimes/index.js";
import { holdsRegistrations, observedRegistrationOf, registrationOf, registryRuntime } from "../../src/runtimes/registrations.js";
import { maskSecrets, secretValuesOf } from "../../src/runtimes/secrets.js";
import { buildDriftReport } from "../../src/report/build.js";
import { buildPlan } from "../../src/plan/index.js";
import { diff } from "../../src/diff/index.js";
import { secretValues } from "../../src/reconcile/apply.js";
import { actualState, capture, deployment, desiredState, hostInstance, registration, SECRET_VALUE } from "../support/resources-fixture.js";

test("secrets: a pod's annotated env values and a host instance's secretEnv are masked; other resources pass as they are", () => {
  const web = deployment({ app: "web", env: [{ name: "SESSION_KEY", value: SECRET_VALUE }, { name: "MODE", value: "a" }], secretEnv: ["SESSION_KEY"] });
  const masked = maskSecrets(web);
  assert.ok(masked.runtime === "k8s");
  const env = (masked.object.spec as { template: { spec: { containers: { env?: unknown }[] } } }).template.spec.containers[0]!.env;
  assert.deepEqual(env, [{ name: "SESSION_KEY", value: "(secret)" }, { name: "MODE", value: "a" }]);
  assert.ok(JSON.stringify(web).includes(SECRET_VALUE), "the input is not changed");

  const billing = hostInstance({ app: "billing", environment: { TOKEN: SECRET_VALUE, MODE: "a" }, secretEnv: ["TOKEN"] });
  const vm = maskSecrets(billing);
  assert.ok(vm.runtime === "vm");
  assert.deepEqual(vm.instance.environment, { TOKEN: "(secret)", MODE: "a" });

  for (const r of [capture(), registration("billing")]) assert.equal(maskSecrets(r), r);
});

test("secrets: the values run records redact are a host instance's secretEnv values (empty ones left out)", () => {
  const billing = hostInstance({ app: "billing", environment: { TOKEN: SECRET_VALUE, EMPTY: "", MODE: "a" }, secretEnv: ["TOKEN", "EMPTY", "UNSET"] });
  assert.deepEqual(secretValuesOf(billing), [SECRET_VALUE]);
  const web = deployment({ app: "web", env: [{ name: "SESSION_KEY", value: "k" }], secretEnv: ["SESSION_KEY"] });
  assert.deepEqual(secretValuesOf(web), []);
  const twice = hostInstance({ app: "user", environment: { TOKEN: SECRET_VALUE }, secretEnv: ["TOKEN"] });
  assert.deepEqual(secretValues(desiredState([web, billing, twice, capture()])), [SECRET_VALUE]);
});

test("registry: the registry runtime's resources are the registrations, with their observed check", () => {
  assert.deepEqual(RUNTIME_ORDER.filter(holdsRegistrations), ["consul"]);
  assert.equal(registryRuntime(), "consul");
  const reg = registration("billing");
  assert.ok(reg.runtime === "consul");
  assert.equal(registrationOf(reg), reg.registration);
  assert.equal(registrationOf(hostInstance({ app: "billing" })), null);
  const seen: ActualResource = { ...reg, observed: { check: "critical" } };
  assert.deepEqual(observedRegistrationOf(seen), { registration: reg.registration, check: "critical" });
  assert.deepEqual(observedRegistrationOf(reg), { registration: reg.registration, check: undefined });
  assert.equal(observedRegistrationOf(capture()), null);
});

test("report: registry drift of a registration that no resource names goes to the registry runtime's row", () => {
  const desired = desiredState([]);
  const actual = actualState([]);
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), {}, null);
  const registry = [{ kind: "unexpected" as const, service: "ghost", id: "ghost-vm-9-9100", host: "vm-9", detail: "amphi-tagged for prod but not desired" }];
  const report = buildDriftReport({ desired, actual, plan, revision: null, now: new Date(0), registry });
  assert.deepEqual(
    report.rows.map((r) => [r.app, r.runtime, r.target, r.items.map((i) => i.kind)]),
    [["ghost", "vm", "vm-9", ["registry"]]],
  );
});

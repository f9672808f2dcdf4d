// The --actual file: JSON or YAML in the ActualState shape; every problem reported at once, naming the file and entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseActualState } from "../../src/diff/actual-file.js";
import { InputError } from "../../src/model/index.js";
import { capture, deployment, hostInstance, registration } from "../support/resources-fixture.js";

const resources = [deployment({ app: "web" }), hostInstance({ app: "billing" }), capture(), registration("billing")];

function problemsOf(text: string, file = "actual.json", env = "prod"): string[] {
  try {
    parseActualState(text, file, env);
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    return e.message.split("\n");
  }
  assert.fail("expected the file to be rejected");
}

test("a JSON file in the ActualState shape parses to the same resources", () => {
  const text = JSON.stringify({ env: "prod", observedAt: "2026-01-02T03:04:05Z", resources, unreachable: [{ runtime: "vm", target: "legacy/vm-3", reason: "timeout" }] });
  const state = parseActualState(text, "actual.json", "prod");
  assert.deepEqual(state.resources, resources);
  assert.equal(state.observedAt, "2026-01-02T03:04:05Z");
  assert.deepEqual(state.unreachable, [{ runtime: "vm", target: "legacy/vm-3", reason: "timeout" }]);
});

test("YAML works too; env, observedAt and unreachable may be left out; empty resources are fine", () => {
  const yaml = `resources:
- runtime: vm
  key: vm/legacy/vm-2/billing
  app: billing
  target: legacy/vm-2
  observed: { process: stopped }
  instance:
    environment: { A: "1" }
    secretEnv: []
`;
  const state = parseActualState(yaml, "actual.yaml", "staging");
  assert.equal(state.env, "staging");
  assert.equal(state.observedAt, null);
  assert.deepEqual(state.unreachable, []);
  assert.deepEqual(state.resources[0]!.observed, { process: "stopped" });
  assert.deepEqual(parseActualState("resources: []\n", "actual.yaml", "prod").resources, []);
});

test("a capture entry without app gets app null", () => {
  const { app: _, ...withoutApp } = capture() as any;
  const state = parseActualState(JSON.stringify({ resources: [withoutApp] }), "actual.json", "prod");
  assert.equal(state.resources[0]!.app, null);
});

test("every problem is listed at once, each naming the file and the entry", () => {
  const [dep, vm, cap, reg] = JSON.parse(JSON.stringify(resources));
  delete dep.object;
  vm.runtime = "lxc";
  cap.app = "billing";
  reg.observed = { check: "broken", mood: "good" };
  delete vm.key;
  const text = JSON.stringify({ env: "staging", resources: [dep, vm, cap, reg, reg, 42], extra: 1 });
  assert.deepEqual(problemsOf(text), [
    `actual.json: unknown field "extra"`,
    `actual.json: env is "staging" but the plan is for "prod"`,
    `actual.json: resources[0] (k8s/eu1/Deployment/shop/web): missing "object"`,
    `actual.json: resources[1]: missing "key"`,
    `actual.json: resources[1]: unknown runtime "lxc" (expected k8s, vm, sidecar, capture, consul, mesh)`,
    `actual.json: resources[2] (capture/legacy/vm-2): "app" must be null for capture rules (they belong to a host)`,
    `actual.json: resources[3] (consul/billing/billing-vm-2-9100): "observed.check" is "broken"; expected passing, warning, critical`,
    `actual.json: resources[3] (consul/billing/billing-vm-2-9100): unknown field "observed.mood" (expected process, proxy, check)`,
    `actual.json: resources[4] (consul/billing/billing-vm-2-9100): "observed.check" is "broken"; expected passing, warning, critical`,
    `actual.json: resources[4] (consul/billing/billing-vm-2-9100): unknown field "observed.mood" (expected process, proxy, check)`,
    `actual.json: resources[5]: must be an object`,
  ]);
});

test("payload fields the diff relies on are type-checked; duplicate keys are rejected", () => {
  const [dep, vm] = JSON.parse(JSON.stringify(resources));
  dep.object.metadata = {};
  vm.instance.secretEnv = "TOKEN";
  const text = JSON.stringify({ resources: [dep, vm, JSON.parse(JSON.stringify(resources[1]))] });
  assert.deepEqual(problemsOf(text), [
    `actual.json: resources[0] (k8s/eu1/Deployment/shop/web): "object.metadata.name" must be a non-empty string`,
    `actual.json: resources[1] (vm/legacy/vm-2/billing): "instance.secretEnv" must be a list of strings`,
  ]);
  const dup = JSON.stringify({ resources: [resources[1], resources[1]] });
  assert.deepEqual(problemsOf(dup), [`actual.json: resources[1] (vm/legacy/vm-2/billing): duplicate key (first at resources[0])`]);
});

test("syntax errors name the file, line and column; a document that is not an object is rejected", () => {
  const yaml = problemsOf("resources:\n  - a: [1\n b: 2\n", "actual.yaml");
  assert.equal(yaml.length, 1);
  assert.match(yaml[0]!, /^actual\.yaml:3:\d+: invalid YAML: /);
  assert.match(problemsOf("{ not json", "actual.json")[0]!, /^actual\.json: invalid JSON: /);
  assert.deepEqual(problemsOf("[]", "actual.json"), [`actual.json: must be an object with "resources" (an ActualState)`]);
  assert.deepEqual(problemsOf("{}", "actual.json"), [`actual.json: missing "resources"`]);
  assert.deepEqual(problemsOf(`{"resources": [], "unreachable": [{"runtime": "vm"}]}`), [
    `actual.json: unreachable[0]: "target" must be a non-empty string`,
    `actual.json: unreachable[0]: "reason" must be a string`,
  ]);
});

// buildPlan: waves from the dependsOn DAG, capture after its host's apps, deletes last in reverse runtime
// order, Services before Deployments, summary counts, determinism.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildPlan } from "../../src/plan/index.js";
import { appWaves } from "../../src/plan/waves.js";
import { formatPlanJson } from "../../src/plan/format.js";
import type { Change, DiffResult, Resource } from "../../src/model/index.js";
import { capture, deployment, hostInstance, registration, service } from "../support/resources-fixture.js";
import { DEPS, REVISION, scenarioDiff } from "./scenario.js";

function creates(resources: Resource[], deletes: Resource[] = []): DiffResult {
  const changes: Change[] = [
    ...resources.map((r): Change => ({ op: "create", key: r.key, desired: r })),
    ...deletes.map((r): Change => ({ op: "delete", key: r.key, actual: r })),
  ];
  return { env: "prod", changes, unchanged: ["k8s/eu1/Service/shop/other"], unknown: [] };
}

const line = (s: { wave: number; runtime: string; op: string; object: string; target: string }) =>
  `${s.wave} ${s.runtime} ${s.op} ${s.target} ${s.object}`;

test("waves follow a 3-level dependsOn DAG across runtimes; deletes come last, in reverse runtime order", () => {
  const deps = { a: [], b: ["a"], c: ["b", "a"] };
  const d = creates(
    [deployment({ app: "c" }), hostInstance({ app: "b" }), registration("b"), deployment({ app: "a" }), hostInstance({ app: "a", host: "vm-1" })],
    [deployment({ app: "old" }), registration("old"), hostInstance({ app: "old" }), capture("vm-9")],
  );
  assert.deepEqual(buildPlan(d, deps, null).steps.map(line), [
    "1 k8s create eu1 Deployment/shop/a",
    "1 vm create legacy/vm-1 a",
    "2 vm create legacy/vm-2 b",
    "2 consul create legacy/vm-2 b-vm-2-9100",
    "3 k8s create eu1 Deployment/shop/c",
    "4 consul delete legacy/vm-2 old-vm-2-9100",
    "4 capture delete legacy/vm-9 iptables",
    "4 vm delete legacy/vm-2 old",
    "4 k8s delete eu1 Deployment/shop/old",
  ]);
  assert.deepEqual(Object.fromEntries(appWaves(deps)), { a: 1, b: 2, c: 3 });
});

test("capture rules go in the wave of the latest app changing on their host, after its VM steps", () => {
  const deps = { a: [], b: ["a"] };
  const d = creates([capture("vm-2"), capture("vm-1"), hostInstance({ app: "b", host: "vm-2" }), hostInstance({ app: "a", host: "vm-2" })]);
  assert.deepEqual(buildPlan(d, deps, null).steps.map(line), [
    "1 vm create legacy/vm-2 a",
    "1 capture create legacy/vm-1 iptables",
    "2 vm create legacy/vm-2 b",
    "2 capture create legacy/vm-2 iptables",
  ]);
});

test("within a wave Services come before Deployments (deletes: Deployments first); apps unknown to deps are wave 1", () => {
  const d = creates([deployment({ app: "x" }), service("x"), deployment({ app: "a" })], [service("gone"), deployment({ app: "gone" })]);
  assert.deepEqual(buildPlan(d, {}, null).steps.map(line), [
    "1 k8s create eu1 Service/shop/x",
    "1 k8s create eu1 Deployment/shop/a",
    "1 k8s create eu1 Deployment/shop/x",
    "2 k8s delete eu1 Deployment/shop/gone",
    "2 k8s delete eu1 Service/shop/gone",
  ]);
});

test("the summary counts steps by op, unchanged keys and unknown items; env and revision pass through", () => {
  const plan = buildPlan(scenarioDiff(), DEPS, REVISION);
  assert.deepEqual(plan.summary, { create: 2, update: 6, delete: 3, unchanged: 2, unknown: 1 });
  assert.equal(plan.env, "prod");
  assert.equal(plan.revision, REVISION);
  assert.deepEqual(buildPlan(creates([]), {}, null).summary, { create: 0, update: 0, delete: 0, unchanged: 1, unknown: 0 });
});

test("a dependsOn cycle throws naming it instead of recursing forever", () => {
  assert.throws(() => buildPlan(creates([]), { a: ["b"], b: ["c"], c: ["a"] }, null), /dependsOn cycle: a → b → c → a/);
});

test("the same inputs in any order give the same plan bytes", () => {
  const expected = formatPlanJson(buildPlan(scenarioDiff(), DEPS, REVISION));
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 20; i++) {
    const shuffle = <T>(items: T[]): T[] => items.map((x) => ({ x, r: random() })).sort((a, b) => a.r - b.r).map((p) => p.x);
    const shuffledDeps = Object.fromEntries(shuffle(Object.entries(DEPS)));
    assert.equal(formatPlanJson(buildPlan(scenarioDiff(shuffle), shuffledDeps, REVISION)), expected, `permutation ${i}`);
  }
});

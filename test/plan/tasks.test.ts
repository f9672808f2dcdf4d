// tasksForPlan: which task each plan step becomes, and Kubernetes steps batched per cluster and wave.
import { test } from "node:test";
import assert from "node:assert/strict";
import { render } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { tasksForPlan } from "../../src/plan/tasks.js";
import type { ActualState } from "../../src/model/index.js";
import { modelFixture } from "../support/model-fixture.js";

function planOf(actual: (a: ActualState) => ActualState) {
  const model = modelFixture();
  const desired = render(model, "prod");
  const base: ActualState = structuredClone({ env: "prod", observedAt: null, resources: desired.resources, unreachable: [] });
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  return { plan: buildPlan(diff(desired, actual(base), { ignore: [] }), deps, null), desired };
}

test("an empty actual state: deploys, captures and registrations per host, one kubectl apply per cluster and wave", () => {
  const { plan, desired } = planOf((a) => ({ ...a, resources: [] }));
  const tasks = tasksForPlan(plan, desired);
  const k8s = tasks.filter((t) => t.kind === "k8s-apply");
  assert.ok(k8s.length >= 1);
  assert.deepEqual(new Set(k8s.map((t) => `${t.target}|${t.wave}`)).size, k8s.length, "one batch per cluster and wave");
  assert.equal(k8s.reduce((n, t) => n + t.keys.length, 0), plan.steps.filter((s) => s.runtime === "k8s").length);
  const vm = plan.steps.filter((s) => s.runtime === "vm");
  assert.deepEqual(tasks.filter((t) => t.kind === "deploy").map((t) => t.keys[0]), vm.map((s) => s.key));
  for (const t of tasks) if (t.kind === "deploy") assert.equal(t.payload.kind === "deploy" && t.payload.instance.app, t.app);
  assert.ok(tasks.some((t) => t.kind === "capture"));
  assert.ok(tasks.some((t) => t.kind === "register"));
  // what is not there yet and touches nothing running is fresh (not counted against maxUnavailable); capture is not
  for (const t of tasks) assert.equal(t.fresh === true, t.kind === "deploy" || t.kind === "register", `${t.kind} ${t.keys[0]}`);
});

test("a stopped process becomes a start task; a removed instance an undeploy", () => {
  const { plan, desired } = planOf((a) => {
    const vm = a.resources.filter((r) => r.runtime === "vm");
    const stopped = { ...vm[0]!, observed: { process: "stopped" as const } };
    const extra = { ...vm[1]!, key: vm[1]!.key.replace(/[^/]+$/, "legacy-app"), app: "legacy-app" };
    return { ...a, resources: [...a.resources.filter((r) => r.key !== stopped.key), stopped, extra] };
  });
  const tasks = tasksForPlan(plan, desired);
  assert.deepEqual(tasks.map((t) => t.kind).sort(), ["start", "undeploy"]);
  const undeploy = tasks.find((t) => t.kind === "undeploy")!;
  assert.deepEqual(undeploy.payload, { kind: "undeploy", app: "legacy-app" });
  assert.ok(tasks.every((t) => !t.fresh), "a start and an undeploy touch what is there");
});

test("ignored fields are not applied to objects that exist, but new objects get them", async () => {
  const { withoutIgnored } = await import("../../src/runtimes/k8s/ignore.js");
  const { plan, desired } = planOf((a) => {
    const resources = structuredClone(a.resources).map((r) => {
      if (r.runtime !== "k8s" || r.object.kind !== "Deployment") return r;
      const spec = r.object.spec as { replicas: number; template: { spec: { containers: { name: string; image: string }[] } } };
      spec.replicas = 7;
      spec.template.spec.containers[0]!.image = "old:1";
      return r;
    });
    return { ...a, resources };
  });
  const rules = [{ kind: "Deployment", app: null, jsonPointers: ["/spec/replicas"] }];
  const batch = tasksForPlan(plan, desired, rules).find((t) => t.kind === "k8s-apply")!;
  assert.equal(batch.payload.kind, "k8s-apply");
  for (const o of batch.payload.kind === "k8s-apply" ? batch.payload.objects : []) {
    assert.equal((o.object.spec as { replicas?: number }).replicas, undefined, `${o.key}: replicas left to their owner`);
  }
  const fresh = desired.resources.find((r) => r.runtime === "k8s" && r.object.kind === "Deployment")!;
  assert.ok(fresh.runtime === "k8s" && (fresh.object.spec as { replicas?: number }).replicas !== undefined, "desired state itself untouched");
  const containers = withoutIgnored(fresh.runtime === "k8s" ? fresh.object : (null as never), null, [{ kind: "Deployment", app: null, jsonPointers: ["/spec/template/spec/containers/app/image"] }]);
  const app = (containers.spec as { template: { spec: { containers: { name: string; image?: string }[] } } }).template.spec.containers.find((c) => c.name === "app")!;
  assert.equal(app.image, undefined, "a container is found by name in a pointer");
});

// The mesh runtime: traffic policies as resources (one per service, owned by the app declaring it), the plan
// line a policy change makes (`split 2.3.0:100→2.3.0:90,2.4.0:10`, `timeout 2s→3s`), its place in the plan
// (after the instances of its app), its task payloads and its file in `amphi render --out`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { amphi } from "../support/cli.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import type { ActualState, Model, TrafficPolicy } from "../../src/model/index.js";
import { render, renderFiles } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan, formatStep } from "../../src/plan/index.js";
import { tasksForPlan } from "../../src/plan/tasks.js";
import { mesh } from "../../src/runtimes/mesh/index.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";

const policy = (over: Partial<TrafficPolicy> = {}): TrafficPolicy => ({
  service: "billing",
  split: [{ version: "2.3.0", weight: 100 }],
  timeoutMs: 2000,
  retries: { attempts: 2, perTryTimeoutMs: 500, on: ["5xx", "connect-failure"] },
  circuitBreaker: null,
  outlierDetection: null,
  rateLimit: null,
  ...over,
});
const withTraffic = (model: Model, traffic: TrafficPolicy[]): Model => withEnvironment(model, (e) => ({ ...e, traffic }));
const asActual = (model: Model): ActualState => ({ env: "prod", observedAt: null, resources: render(model, "prod").resources, unreachable: [] });
const planOf = (model: Model, actual: ActualState) => {
  const desired = render(model, "prod");
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  return { desired, plan: buildPlan(diff(desired, actual, { ignore: [] }), deps, null) };
};

test("render: one resource per service with a policy, owned by the app that declares the service, on the control plane", () => {
  const desired = render(withTraffic(modelFixture(), [policy()]), "prod");
  const ours = desired.resources.filter((r) => r.runtime === "mesh");
  assert.deepEqual(ours, [{ runtime: "mesh", key: "mesh/billing", app: "billing", target: "xds", policy: policy() }]);
  assert.equal(render(modelFixture(), "prod").resources.filter((r) => r.runtime === "mesh").length, 0, "no traffic block, no mesh resource");
});

test("a split change alone plans only the mesh item, in the plan's words, and its task carries the new policy", () => {
  const before = withTraffic(modelFixture(), [policy()]);
  const after = withTraffic(modelFixture(), [policy({ split: [{ version: "2.3.0", weight: 90 }, { version: "2.4.0", weight: 10 }], timeoutMs: 3000 })]);
  const { desired, plan } = planOf(after, asActual(before));
  assert.deepEqual(plan.steps.map(formatStep), ["wave 2  mesh  xds  billing  update  billing  split 2.3.0:100→2.3.0:90,2.4.0:10; timeout 2s→3s"]);
  const tasks = tasksForPlan(plan, desired);
  assert.deepEqual(tasks.map((t) => [t.kind, t.target, t.app, t.payload]), [["mesh-policy", "xds", "billing", { kind: "mesh-policy", service: "billing", app: "billing", policy: after.environments[0]!.traffic[0] }]]);
});

test("compare: each setting is its own field; a part that is not set reads (none)", () => {
  const fields = mesh.compare(
    { runtime: "mesh", key: "mesh/billing", app: "billing", target: "xds", policy: policy({ retries: null, circuitBreaker: { maxConnections: 10, maxPendingRequests: null, maxRequests: null } }) },
    { runtime: "mesh", key: "mesh/billing", app: "billing", target: "xds", policy: policy() },
    [],
  );
  assert.deepEqual(fields, [
    { path: "retries.attempts", from: 2, to: undefined },
    { path: "retries.perTryTimeout", from: "500ms", to: undefined },
    { path: "retries.on", from: "5xx,connect-failure", to: undefined },
    { path: "circuitBreaker.maxConnections", from: undefined, to: 10 },
  ]);
  assert.deepEqual(mesh.compare({ runtime: "mesh", key: "k", app: "a", target: "xds", policy: policy() }, { runtime: "mesh", key: "k", app: "a", target: "xds", policy: policy() }, []), []);
});

test("plan: a policy goes out in the wave after the other steps of its app (the new version is deployed first); a removed one is a delete", () => {
  const before = withTraffic(modelFixture(), [policy()]);
  const newVersion = withEnvironment(withTraffic(modelFixture(), [policy({ split: [{ version: "2.4.0", weight: 100 }] })]), (e) => ({
    ...e,
    placements: e.placements.map((p) => (p.type === "hostGroup" && p.app === "billing" ? { ...p, package: { ...p.package, version: "2.4.0" } } : p)),
  }));
  const { plan } = planOf(newVersion, asActual(before));
  const billingWaves = plan.steps.filter((s) => s.app === "billing" && s.runtime !== "mesh").map((s) => s.wave);
  const meshStep = plan.steps.find((s) => s.runtime === "mesh")!;
  assert.ok(billingWaves.length > 0, "the new version deploys");
  assert.equal(meshStep.wave, Math.max(...billingWaves) + 1);
  const removed = planOf(modelFixture(), asActual(before));
  assert.deepEqual(removed.plan.steps.map(formatStep), ["wave 1  mesh  xds  billing  delete  billing"]);
  assert.deepEqual(tasksForPlan(removed.plan, removed.desired).map((t) => t.payload), [{ kind: "mesh-policy", service: "billing", app: "billing", policy: null }]);
});

test("render --out: policies go to mesh/<env>.yaml; the other files are unchanged by them", () => {
  const withPolicy = renderFiles(render(withTraffic(modelFixture(), [policy()]), "prod"));
  const without = renderFiles(render(modelFixture(), "prod"));
  assert.deepEqual(withPolicy.filter((f) => f.path !== "mesh/prod.yaml"), without);
  const file = withPolicy.find((f) => f.path === "mesh/prod.yaml")!;
  assert.match(file.content, /^# Rendered by amphi for environment prod\. Not a Kubernetes object\.\n/);
  assert.deepEqual(load(file.content), { apiVersion: "amphi.dev/v1", kind: "MeshRender", metadata: { env: "prod" }, policies: [policy()] });
});

test("report: a policy applied is healthy, one not applied is missing", () => {
  const r = { runtime: "mesh" as const, key: "mesh/billing", app: "billing", target: "xds", policy: policy() };
  const ctx = { now: new Date(0), progressTimeoutMs: 1 };
  assert.deepEqual(mesh.report.health({ desired: r, actual: r }, ctx), { health: "healthy", message: "policy applied" });
  assert.deepEqual(mesh.report.health({ desired: r }, ctx), { health: "missing", message: "policy not applied" });
  assert.equal(mesh.report.row, "mesh");
});

test("render --out writes mesh/<env>.yaml and removes a mesh file no longer rendered", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-mesh-out-${process.pid}-`));
  try {
    const first = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--out", dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(readFileSync(join(dir, "mesh/prod.yaml"), "utf8"), /^kind: MeshRender$/m);
    writeFileSync(join(dir, "mesh/old.yaml"), "kind: MeshRender\n");
    const again = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--out", dir]);
    assert.match(again.stderr, /removed stale .*mesh\/old\.yaml/);
    assert.ok(!existsSync(join(dir, "mesh/old.yaml")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

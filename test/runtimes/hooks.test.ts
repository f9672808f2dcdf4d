// The render, files and tasks.batch hooks of each runtime: what render hands them (one expanded context),
// what each gives back, and how rendered files and Kubernetes batches are built from them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "js-yaml";
import type { IgnoreRule, PlanStep, Resource } from "../../src/model/index.js";
import { render, renderContext, renderFiles } from "../../src/render/index.js";
import { RUNTIMES, RUNTIME_ORDER, hooksOf } from "../../src/runtimes/index.js";
import { k8s } from "../../src/runtimes/k8s/index.js";
import { vm } from "../../src/runtimes/vm/index.js";
import type { ResourceOf } from "../../src/runtimes/types.js";
import { modelFixture, withCapture, withEnvironment } from "../support/model-fixture.js";

const keys = (resources: readonly Resource[]) => resources.map((r) => r.key);

test("renderContext: cluster placements in placement order; hosts in order of first instance, their instances in placement order", () => {
  const ctx = renderContext(modelFixture(), "prod");
  assert.deepEqual(ctx.clusters.map((c) => `${c.app.name}@${c.placement.cluster}`), ["user@eu1", "catalog@eu1", "web@eu1"]);
  assert.deepEqual(
    ctx.hosts.map((h) => [h.target, h.hostGroup, h.host, h.instances.map((i) => `${i.app.name}:${i.instance.host}`)]),
    [
      ["legacy/vm-1", "legacy", "vm-1", ["catalog:vm-1", "billing:vm-1"]],
      ["legacy/vm-2", "legacy", "vm-2", ["catalog:vm-2", "billing:vm-2"]],
    ],
  );
});

test("render hooks: each runtime renders only its own resources, and render is their union in key order", () => {
  const policy = { service: "billing", split: [], timeoutMs: 2000, retries: null, circuitBreaker: null, outlierDetection: null, rateLimit: null };
  // with a VM sidecar (an Envoy binary on the hosts) and the control plane it needs
  const model = withEnvironment(modelFixture(), (e) => ({
    ...e,
    traffic: [policy],
    mesh: { ...e.mesh, sidecar: { ...e.mesh.sidecar, binary: "/usr/local/bin/envoy" }, controlPlane: { host: "10.0.0.5", port: 18000 } },
  }));
  const ctx = renderContext(model, "prod");
  const byRuntime = RUNTIME_ORDER.map((r) => [r, hooksOf(r).render(ctx)] as const);
  for (const [runtime, resources] of byRuntime) {
    assert.ok(resources.length > 0, `${runtime} renders something from the fixture`);
    assert.ok(resources.every((r) => r.runtime === runtime), `${runtime} renders only its own resources`);
  }
  const union = byRuntime.flatMap(([, resources]) => keys(resources)).sort();
  assert.deepEqual(keys(render(model, "prod").resources), union);
  assert.deepEqual(keys(hooksOf("capture").render(ctx)), ["capture/legacy/vm-1", "capture/legacy/vm-2"]);
  assert.deepEqual(keys(hooksOf("vm").render(ctx)).sort(), ["vm/legacy/vm-1/billing", "vm/legacy/vm-1/catalog", "vm/legacy/vm-2/billing", "vm/legacy/vm-2/catalog"]);
});

test("render hooks: capture renders nothing without capture, the registry nothing without Consul", () => {
  const noCapture = renderContext(withCapture(modelFixture(), false), "prod");
  assert.deepEqual(hooksOf("capture").render(noCapture), []);
  assert.ok(hooksOf("vm").render(noCapture).length > 0);
  const noConsul = renderContext(withEnvironment(modelFixture(), (e) => ({ ...e, consul: { ...e.consul, enabled: false } })), "prod");
  assert.deepEqual(hooksOf("consul").render(noConsul), []);
});

test("files hooks: Kubernetes objects go to their cluster's manifests, the rest to their host group's sections", () => {
  const desired = render(modelFixture(), "prod");
  for (const r of desired.resources) {
    const files = hooksOf(r.runtime).files;
    assert.equal(files.layout, r.runtime === "k8s" ? "clusters" : "hostgroups", r.key);
    assert.equal(files.file(r), r.runtime === "k8s" ? "eu1" : "legacy", r.key);
  }
  const sections = Object.values(RUNTIMES).flatMap((h) => (h.files.layout === "hostgroups" ? [h.files.section] : []));
  assert.deepEqual(sections, ["instances", "sidecars", "capture", "registrations"]);
});

test("files hooks: manifests rank Secrets, ConfigMaps, Services, Deployments, then any other kind; documents start with apiVersion, kind, metadata, spec", () => {
  const object = (kind: string): ResourceOf<"k8s"> => ({
    runtime: "k8s",
    key: `k8s/eu1/${kind}/shop/x`,
    app: "x",
    target: "eu1",
    object: { data: {}, spec: {}, metadata: { name: "x" }, kind, apiVersion: "v1" },
  });
  const files = k8s.files;
  assert.equal(files.layout, "clusters");
  if (files.layout !== "clusters") return;
  // Issue 13: amphi renders Secrets now, first (a pod waits for a missing one).
  assert.deepEqual(["Deployment", "Secret", "Service", "ConfigMap", "Role"].map((k) => files.rank(object(k))), [3, 0, 2, 1, 4]);
  assert.deepEqual(Object.keys(files.document(object("ConfigMap"))), ["apiVersion", "kind", "metadata", "spec", "data"]);
});

test("files hooks: a host instance's entry has its secret values redacted, the instance itself untouched", () => {
  const r = render(modelFixture(), "prod").resources.find((x): x is ResourceOf<"vm"> => x.runtime === "vm" && x.app === "billing")!;
  const files = vm.files;
  assert.equal(files.layout, "hostgroups");
  if (files.layout !== "hostgroups") return;
  assert.deepEqual((files.entry(r) as { environment: unknown }).environment, { APP_VERSION: "2.3.0", DB_PASSWORD: "(secret)" });
  assert.equal(r.instance.environment["DB_PASSWORD"], "hunter2");
});

test("renderFiles: a host group's document lists every host-group section, an empty one too", () => {
  const files = renderFiles(render(withCapture(modelFixture(), false), "prod"));
  const doc = load(files.find((f) => f.path === "hostgroups/legacy.yaml")!.content) as Record<string, unknown[]>;
  assert.deepEqual(Object.keys(doc), ["apiVersion", "kind", "metadata", "instances", "sidecars", "capture", "registrations"]);
  assert.deepEqual(doc["capture"], []);
  assert.deepEqual(doc["sidecars"], [], "no VM sidecar configured in the fixture");
});

const k8sStep = (op: PlanStep["op"], r: ResourceOf<"k8s">): PlanStep & { runtime: "k8s" } => ({
  wave: 1,
  runtime: "k8s",
  target: "eu1",
  app: r.app,
  op,
  key: r.key,
  object: `Deployment/shop/${r.app}`,
  fields: [],
});

test("k8s batch hook: apply batches carry desired objects (updates without ignored fields), delete batches keys and names", () => {
  const batch = k8s.tasks.batch!;
  assert.equal(k8s.tasks.payload, undefined, "Kubernetes steps are batched, never one task each");
  const deployment = render(modelFixture(), "prod").resources.find((r): r is ResourceOf<"k8s"> => r.runtime === "k8s" && r.object.kind === "Deployment")!;
  const ignore: IgnoreRule[] = [{ kind: "Deployment", app: null, jsonPointers: ["/spec/replicas"] }];
  const replicas = (r: Resource) => (r.runtime === "k8s" ? (r.object.spec as { replicas?: number }).replicas : null);

  const apply = batch.start("k8s-apply");
  batch.add(apply, k8sStep("create", deployment), deployment, ignore);
  batch.add(apply, k8sStep("update", deployment), deployment, ignore);
  assert.equal(apply.kind, "k8s-apply");
  const objects = apply.kind === "k8s-apply" ? apply.objects : [];
  assert.deepEqual(objects.map(replicas), [replicas(deployment), undefined], "a create sends every field; an update leaves the ignored ones out");
  assert.notEqual(replicas(deployment), undefined, "the desired resource itself is untouched");

  const del = batch.start("k8s-delete");
  batch.add(del, k8sStep("delete", deployment), undefined, ignore);
  assert.deepEqual(del, { kind: "k8s-delete", keys: [deployment.key], objects: [`Deployment/shop/${deployment.app}`] });
});

test("k8s batch hook: an apply step without its desired object is an error naming the step", () => {
  const batch = k8s.tasks.batch!;
  const deployment = render(modelFixture(), "prod").resources.find((r): r is ResourceOf<"k8s"> => r.runtime === "k8s")!;
  assert.throws(() => batch.add(batch.start("k8s-apply"), k8sStep("create", deployment), undefined, []), new RegExp(`plan step ${deployment.key} has no desired Kubernetes object`));
  assert.throws(() => batch.add({ kind: "uncapture" }, k8sStep("create", deployment), deployment, []), /a uncapture task does not batch Kubernetes steps/);
});

test("tasks hooks: every runtime either builds one payload per step or batches its steps", () => {
  for (const r of RUNTIME_ORDER) {
    const tasks = hooksOf(r).tasks;
    assert.ok((tasks.payload === undefined) !== (tasks.batch === undefined), `${r}: exactly one of payload and batch`);
  }
});

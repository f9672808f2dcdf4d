// diff: pairing by key, ssa-style comparison of live Kubernetes objects, named lists, ignore rules,
// whole-record comparison of host instances, observed process state, unreachable targets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { diff } from "../../src/diff/index.js";
import { compareResource } from "../../src/diff/resources.js";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { render } from "../../src/render/index.js";
import { RUNTIME_ORDER } from "../../src/runtimes/index.js";
import type { ActualResource, Change, DiffResult, IgnoreRule, Resource } from "../../src/model/index.js";
import {
  actualState,
  capture,
  clone,
  deployment,
  desiredState,
  hostInstance,
  live,
  registration,
  service,
  SHA_B,
  type K8sResource,
} from "../support/resources-fixture.js";

function run(desired: Resource[], actual: ActualResource[], ignore: IgnoreRule[] = []): DiffResult {
  return diff(desiredState(desired), actualState(actual), { ignore });
}

function only(result: DiffResult): Change {
  assert.equal(result.changes.length, 1, `expected one change, got ${result.changes.map((c) => `${c.op} ${c.key}`).join(", ")}`);
  return result.changes[0]!;
}

function fieldsOf(change: Change) {
  assert.equal(change.op, "update");
  return change.op === "update" ? change.fields : [];
}

function podSpec(r: K8sResource): any {
  return (r.object as any).spec.template.spec;
}

test("the op is derived from which side exists: create, update, delete; output sorted by key", () => {
  const web = deployment({ app: "web" });
  const user = deployment({ app: "user", image: "registry.example.com/shop/user:1.4.2" });
  const oldUser = live(deployment({ app: "user", image: "registry.example.com/shop/user:1.4.1" }));
  const gone = live(deployment({ app: "gone" }));
  const svc = service("user");
  const result = run([web, user, svc], [live(svc), oldUser, gone]);
  assert.deepEqual(
    result.changes.map((c) => `${c.op} ${c.key}`),
    ["delete k8s/eu1/Deployment/shop/gone", "update k8s/eu1/Deployment/shop/user", "create k8s/eu1/Deployment/shop/web"],
  );
  assert.deepEqual(result.unchanged, ["k8s/eu1/Service/shop/user"]);
  assert.deepEqual(result.unknown, []);
  assert.equal(result.env, "prod");
});

test("output is sorted by key whatever order the sides come in, with or without keys only the actual side has", () => {
  const web = deployment({ app: "web" });
  const user = deployment({ app: "user", image: "registry.example.com/shop/user:1.4.2" });
  const svc = service("user");
  const oldUser = live(deployment({ app: "user", image: "registry.example.com/shop/user:1.4.1" }));
  // every actual key is desired too; the desired side is not in key order
  const result = run([svc, web, user], [live(web), oldUser, live(svc)]);
  assert.deepEqual(result.changes.map((c) => `${c.op} ${c.key}`), ["update k8s/eu1/Deployment/shop/user"]);
  assert.deepEqual(result.unchanged, ["k8s/eu1/Deployment/shop/web", "k8s/eu1/Service/shop/user"]);
  // in key order (as render gives it), with and without an actual-only key
  const sorted = [user, web, svc];
  assert.deepEqual(run(sorted, [live(svc), live(web), oldUser]).unchanged, ["k8s/eu1/Deployment/shop/web", "k8s/eu1/Service/shop/user"]);
  const gone = live(deployment({ app: "gone" }));
  assert.deepEqual(
    run(sorted, [live(svc), gone, live(web), oldUser]).changes.map((c) => `${c.op} ${c.key}`),
    ["delete k8s/eu1/Deployment/shop/gone", "update k8s/eu1/Deployment/shop/user"],
  );
});

test("a live object with server defaults, status, managedFields and string quantities is unchanged", () => {
  const dep = deployment({ app: "web", env: [{ name: "A", value: "1" }] });
  const svc = service("web");
  const result = run([dep, svc], [live(dep), live(svc)]);
  assert.deepEqual(result.changes, []);
  assert.deepEqual(result.unchanged, [svc.key, dep.key].sort());
});

test("an image change is exactly one field: spec.template.spec.containers[name=app].image", () => {
  const dep = deployment({ app: "web", image: "registry.example.com/shop/web:4.2.0" });
  const actual = live(dep);
  podSpec(actual).containers[0].image = "registry.example.com/shop/web:4.1.0";
  podSpec(actual).containers.reverse(); // matched by name, not by position
  assert.deepEqual(fieldsOf(only(run([dep], [actual]))), [
    { path: "spec.template.spec.containers[name=app].image", from: "registry.example.com/shop/web:4.1.0", to: "registry.example.com/shop/web:4.2.0" },
  ]);
});

test("an ignore rule hides /spec/replicas of Deployments of its app only; app null matches every app", () => {
  const web = deployment({ app: "web", replicas: 2 });
  const catalog = deployment({ app: "catalog", replicas: 2 });
  const [liveWeb, liveCatalog] = [live(web), live(catalog)];
  (liveWeb.object as any).spec.replicas = 7;
  (liveCatalog.object as any).spec.replicas = 5;
  const rule: IgnoreRule = { kind: "Deployment", app: "web", jsonPointers: ["/spec/replicas"] };
  const result = run([web, catalog], [liveWeb, liveCatalog], [rule]);
  assert.deepEqual(result.unchanged, [web.key]);
  assert.deepEqual(fieldsOf(only(result)), [{ path: "spec.replicas", from: 5, to: 2 }]);
  const everyApp = run([web, catalog], [liveWeb, liveCatalog], [{ ...rule, app: null }]);
  assert.deepEqual(everyApp.changes, []);
  const otherKind = run([web], [liveWeb], [{ ...rule, kind: "StatefulSet" }]);
  assert.equal(otherKind.changes.length, 1);
});

test("an ignore pointer can name a list element by index or by name", () => {
  const dep = deployment({ app: "web" });
  const actual = live(dep);
  podSpec(actual).containers[1].image = "envoyproxy/envoy:v1.30.0";
  const byName = { kind: "Deployment", app: null, jsonPointers: ["/spec/template/spec/containers/sidecar/image"] };
  const byIndex = { ...byName, jsonPointers: ["/spec/template/spec/containers/1"] };
  assert.deepEqual(run([dep], [actual], [byName]).changes, []);
  assert.deepEqual(run([dep], [actual], [byIndex]).changes, []);
  assert.equal(run([dep], [actual], [{ ...byName, jsonPointers: ["/spec/template/spec/containers/0"] }]).changes.length, 1);
});

test("env vars added and removed are matched by name; extra elements of lists amphi does not own are not changes", () => {
  const dep = deployment({ app: "web", env: [{ name: "KEEP", value: "1" }, { name: "NEW", value: "2" }] });
  const actual = live(deployment({ app: "web", env: [{ name: "OLD", value: "0" }, { name: "KEEP", value: "1" }] }));
  podSpec(actual).volumes = [{ name: "cache", emptyDir: {} }];
  podSpec(actual).containers[0].volumeMounts = [{ name: "cache", mountPath: "/cache" }];
  assert.deepEqual(fieldsOf(only(run([dep], [actual]))), [
    { path: "spec.template.spec.containers[name=app].env[name=NEW]", from: undefined, to: { name: "NEW", value: "2" } },
    { path: "spec.template.spec.containers[name=app].env[name=OLD]", from: { name: "OLD", value: "0" }, to: undefined },
  ]);
});

test("a container amphi no longer renders, and an owned list desired dropped entirely, are removals", () => {
  const dep = deployment({ app: "web" });
  delete podSpec(dep).initContainers;
  const actual = live(deployment({ app: "web" }));
  podSpec(actual).containers.push({ name: "debug", image: "busybox" });
  const paths = fieldsOf(only(run([dep], [actual]))).map((f) => [f.path, f.to]);
  assert.deepEqual(paths, [
    ["spec.template.spec.containers[name=debug]", undefined],
    ["spec.template.spec.initContainers[name=amphi-init]", undefined],
  ]);
});

test("host instance: every field counts, a stopped process is an update, an unknown one is not", () => {
  const desired = hostInstance({ app: "billing", version: "2.4.0", sha256: SHA_B });
  const actual = hostInstance({ app: "billing", version: "2.3.0" });
  const fields = fieldsOf(only(run([desired], [actual])));
  assert.deepEqual(fields.map((f) => f.path), ["version", "package.path", "sha256", "environment.APP_VERSION"]);
  const same = hostInstance({ app: "billing" });
  const stopped = run([same], [{ ...clone(same), observed: { process: "stopped" } }]);
  assert.deepEqual(fieldsOf(only(stopped)), [{ path: "process", from: "stopped", to: "running" }]);
  assert.deepEqual(run([same], [{ ...clone(same), observed: { process: "unknown" } }]).unchanged, [same.key]);
  const extra = clone(same);
  (extra.instance as any).legacyField = "x"; // state.json is amphi's own record: an extra field is drift
  assert.deepEqual(fieldsOf(only(run([same], [extra]))), [{ path: "legacyField", from: "x", to: undefined }]);
});

test("capture rules: fragment and hooks compared, full strings kept in the change", () => {
  const desired = capture("vm-2", [{ app: "billing", ports: [9100, 9101] }]);
  const actual = capture("vm-2", [{ app: "billing", ports: [9100] }]);
  const [field] = fieldsOf(only(run([desired], [actual])));
  assert.equal(field!.path, "fragment");
  assert.equal(field!.to, (desired as any).capture.fragment);
  assert.equal(field!.from, (actual as any).capture.fragment);
});

test("consul: registration drift is an update; check health is not a plan change", () => {
  const reg = registration("billing");
  const critical = { ...clone(reg), observed: { check: "critical" as const } };
  assert.deepEqual(run([reg], [critical]).unchanged, [reg.key]);
  const moved = clone(reg);
  (moved as any).registration.port = 9200;
  (moved as any).registration.tags = ["amphi"];
  assert.deepEqual(fieldsOf(only(run([reg], [moved]))).map((f) => f.path), ["port", "tags"]);
});

test("a resource on an unreachable target is unknown: never deleted, never created", () => {
  const stillThere = hostInstance({ app: "billing", host: "vm-3" });
  const wanted = hostInstance({ app: "catalog", host: "vm-3" });
  const cap = capture("vm-3");
  const reg = registration("billing", "vm-3");
  const down = [{ runtime: "vm" as const, target: "legacy/vm-3", reason: "ssh: connect timed out" }];
  const result = diff(desiredState([wanted, cap, reg]), actualState([stillThere, reg], down), { ignore: [] });
  assert.deepEqual(result.changes, []);
  assert.deepEqual(result.unchanged, [reg.key]);
  assert.deepEqual(result.unknown, [
    { key: "capture/legacy/vm-3", runtime: "capture", target: "legacy/vm-3", app: null, reason: "host unreachable: ssh: connect timed out" },
    { key: "vm/legacy/vm-3/billing", runtime: "vm", target: "legacy/vm-3", app: "billing", reason: "host unreachable: ssh: connect timed out" },
    { key: "vm/legacy/vm-3/catalog", runtime: "vm", target: "legacy/vm-3", app: "catalog", reason: "host unreachable: ssh: connect timed out" },
  ]);
});

test("an unreachable Consul hides every registration; an unreachable cluster hides only its own objects", () => {
  const regs = [registration("billing", "vm-1"), registration("billing", "vm-2")];
  const consulDown = [{ runtime: "consul" as const, target: "http://consul.internal:8500", reason: "ECONNREFUSED" }];
  const result = diff(desiredState(regs), actualState([], consulDown), { ignore: [] });
  assert.deepEqual(result.unknown.map((u) => u.reason), ["consul unreachable: ECONNREFUSED", "consul unreachable: ECONNREFUSED"]);
  const eu1 = deployment({ app: "web", cluster: "eu1" });
  const us1 = deployment({ app: "web", cluster: "us1" });
  const clusterDown = [{ runtime: "k8s" as const, target: "us1", reason: "context prod-us1: connection refused" }];
  const split = diff(desiredState([eu1, us1]), actualState([], clusterDown), { ignore: [] });
  assert.deepEqual(split.changes.map((c) => c.key), [eu1.key]);
  assert.deepEqual(split.unknown.map((u) => `${u.key}: ${u.reason}`), [`${us1.key}: cluster unreachable: context prod-us1: connection refused`]);
});

test("two desired resources with one key are a bug in the producer: diff throws naming the key", () => {
  const dep = deployment({ app: "web" });
  assert.throws(() => run([dep, clone(dep)], []), /desired state has two resources with key k8s\/eu1\/Deployment\/shop\/web/);
});

test("resource quantities compare by value (0.5 = 500m, 1024Mi = 1Gi); a different value is a change", () => {
  const dep = deployment({ app: "web" });
  podSpec(dep).containers[0].resources = { requests: { cpu: 0.5, memory: "1024Mi" }, limits: { memory: "512Mi" } };
  const actual = live(dep);
  podSpec(actual).containers[0].resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "256Mi" } };
  assert.deepEqual(fieldsOf(only(run([dep], [actual]))), [
    { path: "spec.template.spec.containers[name=app].resources.limits.memory", from: "256Mi", to: "512Mi" },
  ]);
  const elsewhere = deployment({ app: "web" });
  (elsewhere.object.metadata.annotations as Record<string, string>)["x"] = "1k";
  const liveElsewhere = live(elsewhere);
  liveElsewhere.object.metadata.annotations!["x"] = "1000";
  assert.equal(run([elsewhere], [liveElsewhere]).changes.length, 1, "quantities are only values under resources");
});

test("every runtime finds no change between a resource and itself (the diff takes an actual entry that is its desired object as unchanged)", async () => {
  const model = await loadModel(new DirSource(EXAMPLE_REPO));
  const seen = new Set<string>();
  for (const env of model.environments) {
    const desired = render(model, env.name);
    for (const r of desired.resources) {
      seen.add(r.runtime);
      assert.deepEqual(compareResource(r, r as unknown as ActualResource, env.ignoreDifferences), [], r.key);
      assert.deepEqual(compareResource(r, clone(r) as unknown as ActualResource, env.ignoreDifferences), [], `${r.key} (a copy)`);
    }
    const same = diff(desired, { env: env.name, observedAt: null, resources: desired.resources as unknown as ActualResource[], unreachable: [] }, { ignore: env.ignoreDifferences });
    assert.deepEqual([same.changes, same.unchanged.length], [[], desired.resources.length]);
  }
  // A new runtime must show up in the example repo (or here) so that this holds for it too.
  assert.deepEqual([...seen].sort(), [...RUNTIME_ORDER].sort());
});

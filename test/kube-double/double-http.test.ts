// The kube-apiserver double over plain HTTP (fetch, no kubectl): the apiserver behaviours kubectl
// does not show directly — conflict wording, shared ownership, strategic merge, stale writes,
// validation, cascading namespace deletion and watch streams.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { deployment } from "./manifests.js";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON
const DEPLOYS = "/apis/apps/v1/namespaces/http/deployments";

describe("kube-apiserver double over HTTP", () => {
  let double: KubeApiDouble;
  const call = async (method: string, path: string, body?: unknown, contentType = "application/json") => {
    const res = await fetch(double.url + path, {
      method,
      headers: { "content-type": contentType },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return { code: res.status, body: (await res.json()) as J };
  };
  const apply = (obj: J, manager: string, force = false) =>
    call("PATCH", `${DEPLOYS}/${obj.metadata.name}?fieldManager=${manager}&force=${force}`, obj, "application/apply-patch+yaml");

  before(async () => {
    double = await startKubeApiServer({ namespaces: ["http"] });
  });
  after(() => double?.close());

  test("an apply creates (201); the same apply again is a no-op with the same resourceVersion (200)", async () => {
    const first = await apply(deployment("http", { name: "noop" }), "amphi");
    assert.equal(first.code, 201);
    const again = await apply(deployment("http", { name: "noop" }), "amphi");
    assert.equal(again.code, 200);
    assert.equal(again.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
  });

  test("probes get defaults and quantities their canonical form; re-applying the same is still a no-op", async () => {
    const d = deployment("http", { name: "canon" }) as J;
    Object.assign(d.spec.template.spec.containers[0], {
      resources: { requests: { cpu: "0.5", memory: "1024Mi" }, limits: { cpu: 2, memory: "1.5Gi" } },
      readinessProbe: { httpGet: { path: "/healthz", port: 8080 } },
    });
    const first = await apply(d, "amphi");
    const app = first.body.spec.template.spec.containers[0];
    assert.deepEqual(app.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "1536Mi" } });
    assert.deepEqual(app.readinessProbe, {
      httpGet: { path: "/healthz", port: 8080, scheme: "HTTP" },
      timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3,
    });
    const again = await apply(d, "amphi");
    assert.equal(again.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
  });

  test("two appliers setting the same value share it; different values conflict, worded like the apiserver", async () => {
    await apply(deployment("http", { name: "shared" }), "amphi");
    const same = await apply({ ...deployment("http", { name: "shared" }) }, "other");
    assert.equal(same.code, 200, JSON.stringify(same.body));
    const owners = same.body.metadata.managedFields.filter((m: J) => m.fieldsV1["f:spec"]?.["f:replicas"]).map((m: J) => m.manager);
    assert.deepEqual(owners.sort(), ["amphi", "other"]);

    const conflict = await apply(deployment("http", { name: "shared", replicas: 7, image: "x:2" }), "amphi");
    assert.equal(conflict.code, 409);
    assert.equal(conflict.body.reason, "Conflict");
    assert.equal(
      conflict.body.message,
      'Apply failed with 2 conflicts: conflicts with "other":\n- .spec.replicas\n- .spec.template.spec.containers[name="app"].image',
    );
    assert.deepEqual(conflict.body.details.causes[0], { reason: "FieldManagerConflict", message: 'conflict with "other"', field: ".spec.replicas" });
  });

  test("merge and strategic merge patches are Updates; strategic merges containers by name", async () => {
    await apply(deployment("http", { name: "smp" }), "amphi");
    const patch = { spec: { template: { spec: { containers: [{ name: "mesh", image: "registry.example/envoy:1.31" }] } } } };
    const r = await call("PATCH", `${DEPLOYS}/smp?fieldManager=kubectl-edit`, patch, "application/strategic-merge-patch+json");
    assert.equal(r.code, 200);
    assert.deepEqual(r.body.spec.template.spec.containers.map((c: J) => `${c.name}=${c.image}`), [
      "app=registry.example/shop/web:1.0",
      "mesh=registry.example/envoy:1.31",
    ]);
    const edit = r.body.metadata.managedFields.find((m: J) => m.manager === "kubectl-edit");
    assert.equal(edit.operation, "Update");
    assert.equal(edit.apiVersion, "apps/v1");
    assert.deepEqual(edit.fieldsV1, { "f:spec": { "f:template": { "f:spec": { "f:containers": { 'k:{"name":"mesh"}': { "f:image": {} } } } } } });
    assert.equal(r.body.metadata.generation, 2);

    const merge = await call("PATCH", `${DEPLOYS}/smp`, { metadata: { labels: { extra: "1" } } }, "application/merge-patch+json");
    assert.equal(merge.body.metadata.labels.extra, "1");
    assert.equal(merge.body.metadata.generation, 2, "metadata changes leave generation alone");
  });

  test("a JSON patch applies add/replace/remove/test; a failed test is a 422, a stale resourceVersion a 409", async () => {
    await apply(deployment("http", { name: "jp" }), "amphi");
    const ops = [
      { op: "test", path: "/spec/replicas", value: 2 },
      { op: "replace", path: "/spec/replicas", value: 4 },
      { op: "add", path: "/metadata/labels/extra", value: "1" },
      { op: "remove", path: "/spec/template/spec/containers/1" },
    ];
    const r = await call("PATCH", `${DEPLOYS}/jp?fieldManager=jp`, ops, "application/json-patch+json");
    assert.equal(r.code, 200, JSON.stringify(r.body));
    assert.equal(r.body.spec.replicas, 4);
    assert.equal(r.body.metadata.labels.extra, "1");
    assert.deepEqual(r.body.spec.template.spec.containers.map((c: J) => c.name), ["app"]);
    const failed = await call("PATCH", `${DEPLOYS}/jp`, [{ op: "test", path: "/spec/replicas", value: 2 }], "application/json-patch+json");
    assert.equal(failed.code, 422);
    const stale = await call("PATCH", `${DEPLOYS}/jp`, [{ op: "replace", path: "/metadata/resourceVersion", value: "1" }], "application/json-patch+json");
    assert.equal(stale.code, 409);
  });

  test("a container another manager added stays where it is; amphi's re-apply is still a no-op", async () => {
    await apply(deployment("http", { name: "sidecar" }), "amphi");
    const add = [{ op: "add", path: "/spec/template/spec/containers/0", value: { name: "injected", image: "mesh/agent:1" } }];
    const injected = await call("PATCH", `${DEPLOYS}/sidecar?fieldManager=injector`, add, "application/json-patch+json");
    assert.equal(injected.code, 200, JSON.stringify(injected.body));
    const again = await apply(deployment("http", { name: "sidecar" }), "amphi");
    assert.equal(again.body.metadata.resourceVersion, injected.body.metadata.resourceVersion);
    assert.deepEqual(again.body.spec.template.spec.containers.map((c: J) => c.name), ["injected", "app", "mesh"]);
    const changed = await apply(deployment("http", { name: "sidecar", image: "registry.example/shop/web:2" }), "amphi");
    assert.deepEqual(changed.body.spec.template.spec.containers.map((c: J) => `${c.name}=${c.image}`), [
      "injected=mesh/agent:1", "app=registry.example/shop/web:2", "mesh=registry.example/envoy:1.30",
    ]);
  });

  test("a PUT with a stale resourceVersion is a 409; an apply without fieldManager a 422", async () => {
    const created = await apply(deployment("http", { name: "stale" }), "amphi");
    await call("PATCH", `${DEPLOYS}/stale`, { spec: { replicas: 3 } }, "application/merge-patch+json");
    const put = await call("PUT", `${DEPLOYS}/stale`, created.body);
    assert.equal(put.code, 409);
    assert.match(put.body.message, /the object has been modified; please apply your changes to the latest version/);
    const noManager = await call("PATCH", `${DEPLOYS}/stale`, deployment("http", { name: "stale" }), "application/apply-patch+yaml");
    assert.equal(noManager.code, 422);
  });

  test("invalid objects are 422 with field causes; a changed selector is immutable", async () => {
    const bad = deployment("http", { name: "bad" }) as J;
    bad.spec.selector = { matchLabels: { app: "other" } };
    const r = await apply(bad, "amphi");
    assert.equal(r.code, 422);
    assert.equal(r.body.reason, "Invalid");
    assert.match(r.body.message, /^Deployment\.apps "bad" is invalid: spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`/);
    await apply(deployment("http", { name: "immutable" }), "amphi");
    const moved = deployment("http", { name: "immutable" }) as J;
    moved.spec.selector.matchLabels.tier = "x";
    moved.spec.template.metadata.labels.tier = "x";
    const r2 = await apply(moved, "amphi");
    assert.equal(r2.code, 422);
    assert.match(r2.body.message, /spec\.selector: Invalid value: .*field is immutable/);
  });

  test("a deleted namespace is Terminating (no new content), then gone with what was in it", async () => {
    const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: "1" } });
    await call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "doomed" } });
    await call("POST", "/api/v1/namespaces/doomed/configmaps", cm("c"));
    // Terminating for 2 s, so the checks below never race the end of it on a loaded machine.
    double.namespaceTerminationMs = 2000;
    const del = await call("DELETE", "/api/v1/namespaces/doomed");
    double.namespaceTerminationMs = 50;
    assert.equal(del.code, 200);
    assert.equal(del.body.status.phase, "Terminating");
    const refused = await call("POST", "/api/v1/namespaces/doomed/configmaps", cm("d"));
    assert.equal(refused.code, 403);
    assert.equal(refused.body.message, 'configmaps "d" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    assert.equal((await call("DELETE", "/api/v1/namespaces/doomed/configmaps/c")).code, 200, "existing content can still be deleted");
    for (let i = 0; i < 300 && double.get("Namespace", undefined, "doomed"); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(double.objects({ namespace: "doomed" }), []);
    assert.equal(double.get("Namespace", undefined, "doomed"), undefined);
    const create = await call("POST", "/api/v1/namespaces/doomed/configmaps", cm("c"));
    assert.equal(create.code, 404);
    assert.equal(create.body.message, 'namespaces "doomed" not found');
  });

  test("a watch streams the current objects, then changes, one JSON event per line", async () => {
    await apply(deployment("http", { name: "watched" }), "amphi");
    const ctrl = new AbortController();
    const res = await fetch(`${double.url}${DEPLOYS}?watch=true&fieldSelector=metadata.name%3Dwatched`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    let text = "";
    const nextLine = async () => {
      while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
      const [line, ...rest] = text.split("\n");
      text = rest.join("\n");
      return JSON.parse(line!) as J;
    };
    assert.equal((await nextLine()).type, "ADDED");
    double.setDeploymentStatus("http", "watched", { observedGeneration: 1, replicas: 2 });
    const modified = await nextLine();
    assert.equal(modified.type, "MODIFIED");
    assert.equal(modified.object.status.replicas, 2);
    ctrl.abort();
  });

  test("a watch from a list's resourceVersion replays the changes made since (an informer's list, then watch); an old one is 410 Expired", async () => {
    const CMS = "/api/v1/namespaces/http/configmaps";
    const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: "1" } });
    await call("POST", CMS, cm("early"));
    const listed = await call("GET", CMS);
    // Changes between the list and the watch (kubectl's informer leaves this gap; a loaded machine widens it).
    await call("DELETE", `${CMS}/early`);
    await call("POST", CMS, cm("late"));
    await call("POST", "/api/v1/namespaces/default/configmaps", cm("elsewhere"));
    const events = async (rv: string) => {
      const res = await fetch(`${double.url}${CMS}?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
      return (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l) as J);
    };
    const replayed = await events(listed.body.metadata.resourceVersion);
    assert.deepEqual(replayed.map((e) => `${e.type} ${e.object.metadata.name}`), ["DELETED early", "ADDED late"]);
    assert.ok(Number(replayed[0]!.object.metadata.resourceVersion) > Number(listed.body.metadata.resourceVersion));
    const expired = await events("1");
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.type, "ERROR");
    assert.equal(expired[0]!.object.code, 410);
    assert.match(expired[0]!.object.message, /^too old resource version: 1 \(\d+\)$/);
  });
});

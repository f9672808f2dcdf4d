// The kubectl adapter with the real kubectl, against the kube-apiserver double (or the real cluster named by
// AMPHI_TEST_KUBE_CONTEXT): the example's prod objects on eu1 are created, read back and plan no changes;
// re-applying changes nothing; an image change touches that one field; removing a placement prunes exactly
// amphi's objects; conflicts, Forbidden, bad contexts and a missing kubectl are reported per object/cluster.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyObjects, deleteObjects, parseObjectName, readCluster, KubectlError } from "../../src/adapters/kubectl/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { tasksForPlan } from "../../src/plan/tasks.js";
import type { DesiredState, Model, Plan } from "../../src/model/index.js";
import { closedPort, kubeTestTarget, writeKubeconfig, type KubeTestTarget } from "../support/kubeconfig.js";
import {
  actualOf, clusterOf, deleteNamespaces, desiredOn, NEEDS_DOUBLE, exampleModel, kubectlOptions, kubectlJson, kubectlText, objectsOf, skipWithoutKubectl, uniqueNamespace,
} from "./support.js";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed kubectl JSON

describe("kubectl adapter: read, apply, prune", { skip: skipWithoutKubectl() }, () => {
  let target: KubeTestTarget;
  const namespaces = new Set<string>();
  before(async () => {
    target = await kubeTestTarget();
  });
  after(async () => {
    await deleteNamespaces(target, namespaces);
    await target?.close();
  });

  /** A fresh namespace with the example's eu1 objects applied; returns what the tests need. */
  async function applied(label: string) {
    const ns = uniqueNamespace(label);
    namespaces.add(ns);
    const model = await exampleModel(ns);
    const desired = desiredOn(model, "prod", "eu1");
    const cluster = clusterOf(target, "eu1", ns);
    const result = await applyObjects(cluster, objectsOf(desired.resources), { ...kubectlOptions(target), knownNamespaces: new Set() });
    assert.deepEqual(result.failed, []);
    return { ns, model, desired, cluster };
  }

  async function planAgainstLive(model: Model, desired: DesiredState, ns: string): Promise<Plan> {
    const { resources } = await readCluster(clusterOf(target, "eu1", ns), "prod", kubectlOptions(target));
    const env = model.environments.find((e) => e.name === "prod")!;
    return buildPlan(diff(desired, actualOf("prod", resources), { ignore: env.ignoreDifferences }), {}, null);
  }

  test("first apply creates every object (and the namespace) in one apply; read back, they plan no changes", async () => {
    const ns = uniqueNamespace("first");
    namespaces.add(ns);
    const model = await exampleModel(ns);
    const desired = desiredOn(model, "prod", "eu1");
    const cluster = clusterOf(target, "eu1", ns);
    const calls: string[][] = [];
    const opts = kubectlOptions(target, (args) => calls.push([...args]));

    assert.deepEqual((await readCluster(cluster, "prod", opts)).resources, [], "a namespace that does not exist holds nothing");
    calls.length = 0;
    const known = new Set<string>();
    const result = await applyObjects(cluster, objectsOf(desired.resources), { ...opts, knownNamespaces: known });
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.createdNamespaces, [ns]);
    assert.deepEqual(result.applied, desired.resources.map((r) => r.key.replace(/^k8s\/eu1\//, "")));
    assert.deepEqual(calls.map((c) => c.slice(5, 7).join(" ")), ["get namespaces", "apply --server-side"], "one check, one apply");
    const namespace = await kubectlJson(target, ["get", "namespace", ns]);
    assert.equal(namespace.metadata.labels["app.kubernetes.io/managed-by"], "amphi");

    const { resources } = await readCluster(cluster, "prod", opts);
    assert.deepEqual(resources.map((r) => r.key), desired.resources.map((r) => r.key));
    for (const r of resources) assert.deepEqual([r.runtime, r.target], ["k8s", "eu1"]);
    assert.deepEqual(resources.map((r) => r.app), desired.resources.map((r) => r.app));
    const plan = await planAgainstLive(model, desired, ns);
    assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.key} ${JSON.stringify(s.fields)}`), [], "live objects with server defaults plan no changes");
    assert.equal(plan.summary.unchanged, desired.resources.length);

    calls.length = 0;
    const again = await applyObjects(cluster, objectsOf(desired.resources), { ...opts, knownNamespaces: known });
    assert.deepEqual([again.failed, again.createdNamespaces], [[], []]);
    assert.equal(calls.length, 1, "the namespace is known now: just the apply");
    const reread = await readCluster(cluster, "prod", opts);
    assert.deepEqual(
      reread.resources.map((r) => r.object.metadata["resourceVersion"]),
      resources.map((r) => r.object.metadata["resourceVersion"]),
      "re-applying the same objects writes nothing",
    );
    assert.deepEqual((await planAgainstLive(model, desired, ns)).steps, []);
  });

  test("changing an image plans exactly that field, and applying it changes nothing else", async () => {
    const { ns, model, cluster } = await applied("image");
    const changed = structuredClone(model);
    const env = changed.environments.find((e) => e.name === "prod")!;
    for (const p of env.placements) if (p.type === "cluster" && p.app === "user" && p.cluster === "eu1") p.container.image = "registry.example.com/shop/user:1.5.0";
    const desired = desiredOn(changed, "prod", "eu1");
    const plan = await planAgainstLive(changed, desired, ns);
    assert.deepEqual(
      plan.steps.map((s) => ({ op: s.op, object: s.object, fields: s.fields })),
      [{
        op: "update",
        object: `Deployment/${ns}/user`,
        fields: [{ path: "spec.template.spec.containers[name=app].image", from: "registry.example.com/shop/user:1.4.2", to: "registry.example.com/shop/user:1.5.0" }],
      }],
    );
    const tasks = tasksForPlan(plan, desired);
    assert.equal(tasks.length, 1);
    const payload = tasks[0]!.payload;
    assert.ok(payload.kind === "k8s-apply");

    const get = (kind: string, name: string) => kubectlJson(target, ["get", kind, name, "-n", ns]);
    const [deployBefore, svcBefore] = [await get("deployment", "user"), await get("service", "user")];
    const result = await applyObjects(cluster, payload.objects.map((r) => r.object), { ...kubectlOptions(target), knownNamespaces: new Set([ns]) });
    assert.deepEqual([result.applied, result.failed], [[`Deployment/${ns}/user`], []]);
    const deployAfter = await get("deployment", "user");
    assert.equal(deployAfter.spec.template.spec.containers[0].image, "registry.example.com/shop/user:1.5.0");
    assert.deepEqual(changedFields(specAndMeta(deployBefore), specAndMeta(deployAfter)), [".spec.template.spec.containers[0].image"]);
    assert.equal((await get("service", "user")).metadata.resourceVersion, svcBefore.metadata.resourceVersion, "the Service is untouched");
    assert.deepEqual((await planAgainstLive(changed, desired, ns)).steps, []);
  });

  test("removing a placement prunes exactly amphi's objects of that app; foreign objects and other envs survive", async () => {
    const { ns, model, cluster } = await applied("prune");
    const foreign = [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "foreign-config", namespace: ns }, data: { a: "b" } },
      {
        apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "foreign-web", namespace: ns, labels: { app: "foreign" } },
        spec: { selector: { matchLabels: { app: "foreign" } }, template: { metadata: { labels: { app: "foreign" } }, spec: { containers: [{ name: "c", image: "registry.example/foreign:1" }] } } },
      },
      // amphi's, but of another environment: not read for prod, so never pruned by prod
      {
        apiVersion: "v1", kind: "Service",
        metadata: { name: "staging-only", namespace: ns, labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/env": "staging", "amphi.dev/app": "catalog" } },
        spec: { selector: { app: "x" }, ports: [{ port: 80 }] },
      },
    ];
    await kubectlText(target, ["apply", "--server-side", "--field-manager=someone-else", "-f", "-"], foreign.map((o) => JSON.stringify(o)).join("\n"));

    const without = structuredClone(model);
    const env = without.environments.find((e) => e.name === "prod")!;
    env.placements = env.placements.filter((p) => !(p.type === "cluster" && p.app === "catalog" && p.cluster === "eu1"));
    const desired = desiredOn(without, "prod", "eu1");
    const plan = await planAgainstLive(without, desired, ns);
    assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.object}`), [
      `delete Deployment/${ns}/catalog`, `delete Service/${ns}/catalog`, `delete ConfigMap/${ns}/amphi-proxy-catalog`,
    ]);
    const [task, ...more] = tasksForPlan(plan, desired);
    assert.equal(more.length, 0, "one delete task for the cluster");
    assert.ok(task && task.payload.kind === "k8s-delete");
    const calls: string[][] = [];
    const result = await deleteObjects(cluster, task.payload.objects.map(parseObjectName), kubectlOptions(target, (a) => calls.push([...a])));
    assert.deepEqual(result.deleted.sort(), [`ConfigMap/${ns}/amphi-proxy-catalog`, `Deployment/${ns}/catalog`, `Service/${ns}/catalog`]);
    assert.deepEqual([result.absent, result.failed, calls.length], [[], [], 1]);

    const names = (await kubectlText(target, ["get", "deployments,services,configmaps", "-n", ns, "-o", "name"])).trim().split("\n");
    for (const survivor of ["configmap/foreign-config", "deployment.apps/foreign-web", "service/staging-only", "deployment.apps/user", "service/web", "configmap/amphi-proxy-user"]) {
      assert.ok(names.includes(survivor), `${survivor} survives the prune (left: ${names.join(", ")})`);
    }
    for (const gone of ["deployment.apps/catalog", "service/catalog", "configmap/amphi-proxy-catalog"]) assert.ok(!names.includes(gone), `${gone} is pruned`);
    assert.deepEqual((await planAgainstLive(without, desired, ns)).steps, []);

    const again = await deleteObjects(cluster, task.payload.objects.map(parseObjectName), kubectlOptions(target));
    assert.deepEqual([again.deleted, again.absent.length, again.failed], [[], 3, []], "pruning twice finds them gone");
  });

  test("a field another manager owns fails the apply naming the object and field; --force-conflicts takes it", async () => {
    const { ns, desired, cluster } = await applied("conflict");
    await kubectlText(target, ["patch", "deployment", "user", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":5}}']);
    const objects = objectsOf(desired.resources);
    const opts = { ...kubectlOptions(target), knownNamespaces: new Set([ns]) };
    const refused = await applyObjects(cluster, objects, opts);
    assert.equal(refused.failed.length, 1);
    assert.equal(refused.failed[0]!.object, `Deployment/${ns}/user`);
    assert.match(refused.failed[0]!.message, /^Apply failed with 1 conflict: conflict with "kubectl-patch"( using apps\/v1)?: \.spec\.replicas$/);
    assert.equal(refused.applied.length, objects.length - 1, "every other object is applied");
    assert.equal((await kubectlJson(target, ["get", "deployment", "user", "-n", ns])).spec.replicas, 5);

    const forced = await applyObjects(cluster, objects, { ...opts, forceConflicts: true });
    assert.deepEqual(forced.failed, []);
    assert.equal((await kubectlJson(target, ["get", "deployment", "user", "-n", ns])).spec.replicas, 3);
  });

  test("Forbidden: each refused object gets its own message; a forbidden read names the cluster", async (t) => {
    const double = target.double;
    if (!double) return t.skip(NEEDS_DOUBLE);
    const { ns, desired, cluster } = await applied("forbidden");
    double.forbid("patch", "deployments", ns);
    double.forbid("list", "services", ns);
    try {
      const result = await applyObjects(cluster, objectsOf(desired.resources), { ...kubectlOptions(target), knownNamespaces: new Set([ns]) });
      assert.deepEqual(result.failed.map((f) => f.object), ["catalog", "user", "web"].map((n) => `Deployment/${ns}/${n}`));
      for (const f of result.failed) {
        const name = f.object.split("/")[2]!;
        assert.match(f.message, new RegExp(`^Error from server \\(Forbidden\\): deployments.apps "${name}" is forbidden: User "amphi-test" cannot patch resource "deployments"`));
      }
      assert.equal(result.applied.length, desired.resources.length - 3);
      await assert.rejects(readCluster(cluster, "prod", kubectlOptions(target)), (e: Error) => {
        assert.ok(e instanceof KubectlError);
        assert.match(e.message, new RegExp(`^cluster eu1 \\(context amphi-test\\): kubectl get in namespace ${ns} failed: .*Forbidden.*cannot list resource "services"`));
        return true;
      });
    } finally {
      double.allowAll();
    }
  });

  test("an unknown context, an unreachable server and a missing kubectl are errors naming the cluster", async () => {
    const ns = uniqueNamespace("errors");
    const bad = { name: "eu1", context: "no-such-context", namespace: ns, forceConflicts: true };
    const opts = kubectlOptions(target);
    await assert.rejects(readCluster(bad, "prod", opts), /^KubectlError: cluster eu1 \(context no-such-context\): kubectl get in namespace .* failed: .*no-such-context/);
    await assert.rejects(applyObjects(bad, [], opts).then(() => applyObjects(bad, [configMap(ns)], opts)), /cluster eu1 \(context no-such-context\): .*no-such-context/);

    const down = writeKubeconfig([{ name: "down", server: `http://127.0.0.1:${await closedPort()}` }]);
    try {
      const started = performance.now();
      const downOpts = { ...opts, kubeconfig: down.path, requestTimeout: "2s" };
      const cluster = { name: "eu9", context: "down", namespace: ns, forceConflicts: true };
      await assert.rejects(readCluster(cluster, "prod", downOpts), /^KubectlError: cluster eu9 \(context down\): .*(connection refused|was refused)/);
      await assert.rejects(applyObjects(cluster, [configMap(ns)], downOpts), /cluster eu9 \(context down\): .*(connection refused|was refused)/);
      await assert.rejects(deleteObjects(cluster, [{ kind: "ConfigMap", namespace: ns, name: "x" }], downOpts), /cluster eu9 \(context down\): kubectl delete failed: .*refused/);
      assert.ok(performance.now() - started < 15_000);
    } finally {
      down.cleanup();
    }

    const cluster = clusterOf(target, "eu1", ns);
    await assert.rejects(readCluster(cluster, "prod", { ...opts, binary: "/nonexistent/kubectl" }), /cluster eu1 .*: kubectl not found at \/nonexistent\/kubectl/);
    await assert.rejects(
      readCluster(cluster, "prod", { ...opts, binary: "kubectl", env: { ...opts.env, PATH: "/nonexistent" } }),
      /cluster eu1 .*: kubectl not found on PATH; install it/,
    );
  });
});

function configMap(ns: string) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: ns }, data: {} };
}

/** The fields of an object that a user (or amphi) writes: metadata without server bookkeeping, and spec. */
function specAndMeta(o: J): J {
  const { resourceVersion: _r, generation: _g, managedFields: _m, ...metadata } = o.metadata;
  return { metadata, spec: o.spec };
}

function flatten(v: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) flatten(x, Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, out);
  } else out.set(path, JSON.stringify(v));
  return out;
}

function changedFields(a: unknown, b: unknown): string[] {
  const [x, y] = [flatten(a), flatten(b)];
  return [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).sort();
}

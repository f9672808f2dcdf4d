// The real kubectl against the kube-apiserver double: version and discovery, get with selectors,
// delete, Forbidden, unreachable and unknown contexts, create generators (protobuf bodies), scale,
// and rollout status driven by the double's status controls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startKubeApiServer, DOUBLE_GIT_VERSION, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { UNREACHABLE_CONTEXT, kubeconfigFor, type TempKubeconfig } from "../support/kubeconfig.js";
import { kubectl, kubectlJson, kubectlOk, skipWithoutKubectl } from "./kubectl.js";
import { shopYaml } from "./manifests.js";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed kubectl JSON
const APPLY = ["apply", "--server-side", "--field-manager=amphi", "-f", "-"];

describe("kubectl against the double", { skip: skipWithoutKubectl() }, () => {
  let double: KubeApiDouble;
  let kc: TempKubeconfig;
  before(async () => {
    double = await startKubeApiServer({ namespaces: ["shop"] });
    kc = await kubeconfigFor(double);
    await kubectlOk(kc, APPLY, { input: shopYaml("shop") });
  });
  after(async () => {
    await double?.close();
    kc?.cleanup();
  });

  test("kubectl version -o json names the double; api-resources lists what it serves", async () => {
    const v = (await kubectlJson(kc, ["version"])) as J;
    assert.equal(v.serverVersion.gitVersion, DOUBLE_GIT_VERSION);
    const out = await kubectlOk(kc, ["api-resources", "--no-headers"]);
    const rows = out.trim().split("\n").map((l) => l.trim().split(/\s+/));
    const names = rows.map((r) => r[0]);
    for (const n of ["namespaces", "services", "configmaps", "secrets", "pods", "deployments"]) assert.ok(names.includes(n), n);
    assert.deepEqual(rows.find((r) => r[0] === "deployments"), ["deployments", "deploy", "apps/v1", "true", "Deployment"]);
  });

  test("kubectl get prints the server's table columns", async () => {
    const out = await kubectlOk(kc, ["get", "deploy,svc", "-n", "shop", "-l", "amphi.dev/env=prod"]);
    const lines = out.split("\n");
    assert.match(lines[0]!, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    assert.match(lines[1]!, /^deployment\.apps\/web\s+0\/2\s+0\s+0\s+\d+s$/);
    assert.match(out, /NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nservice\/web\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP\s+\d+s/);
    const ns = await kubectlOk(kc, ["get", "ns", "shop", "--show-labels"]);
    assert.match(ns, /^NAME\s+STATUS\s+AGE\s+LABELS\nshop\s+Active\s+\d+s\s+kubernetes\.io\/metadata\.name=shop\n$/);
  });

  test("label selectors (equality, set-based, existence) and field selectors filter lists", async () => {
    await kubectlOk(kc, APPLY, { input: shopYaml("shop", { name: "api" }).replaceAll("amphi.dev/env: prod", "amphi.dev/env: staging") });
    const names = async (...args: string[]) =>
      ((await kubectlJson(kc, ["get", "deploy", "-n", "shop", ...args])) as J).items.map((i: J) => i.metadata.name).join(",");
    assert.equal(await names("-l", "amphi.dev/env=prod"), "web");
    assert.equal(await names("-l", "amphi.dev/env!=prod"), "api");
    assert.equal(await names("-l", "amphi.dev/env in (prod,staging)"), "api,web");
    assert.equal(await names("-l", "amphi.dev/env notin (prod)"), "api");
    assert.equal(await names("-l", "app.kubernetes.io/managed-by"), "api,web");
    assert.equal(await names("-l", "!app.kubernetes.io/managed-by"), "");
    assert.equal(await names("--field-selector", "metadata.name=web"), "web");
    const bad = await kubectl(kc, ["get", "deploy", "-n", "shop", "--field-selector", "spec.replicas=2"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /field label not supported: spec\.replicas/);
  });

  test("kubectl delete removes an object; deleting a missing one is NotFound, exit 1", async () => {
    await kubectlOk(kc, APPLY, { input: shopYaml("shop", { name: "gone" }) });
    const del = await kubectl(kc, ["delete", "deployment", "gone", "-n", "shop"]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'deployment.apps "gone" deleted\n');
    assert.equal(double.get("Deployment", "shop", "gone"), undefined);
    const again = await kubectl(kc, ["delete", "deployment", "gone", "-n", "shop"]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error from server (NotFound): deployments.apps "gone" not found\n');
    // kubectl 1.32 follows a NotFound with a GET of the namespace and reports that instead
    const noNs = await kubectl(kc, ["get", "deployment", "web", "-n", "nowhere"]);
    assert.equal(noNs.stderr, 'Error from server (NotFound): namespaces "nowhere" not found\n');
  });

  test("kubectl delete -f of a namespace and its contents deletes all of them and waits", async () => {
    const yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: temp\n---\n" + shopYaml("temp");
    await kubectlOk(kc, APPLY, { input: yaml });
    // Terminating long enough that kubectl's deletes of the contents come first (at 50 ms the double's namespace
    // controller removed them before kubectl got to them on a loaded machine: NotFound, as a real cluster would say).
    double.namespaceTerminationMs = 3000;
    const del = await kubectl(kc, ["delete", "-f", "-"], { input: yaml }).finally(() => (double.namespaceTerminationMs = 50));
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, 'namespace "temp" deleted\nservice "web" deleted\ndeployment.apps "web" deleted\n');
    assert.equal(double.get("Namespace", undefined, "temp"), undefined, "kubectl waited until the namespace was gone");
  });

  test("forbid() makes the double answer 403 and kubectl report Forbidden", async () => {
    double.forbid("get", "deployments", "shop");
    double.forbid("patch", "services");
    try {
      const get = await kubectl(kc, ["get", "deploy", "web", "-n", "shop"]);
      assert.equal(get.code, 1);
      assert.equal(
        get.stderr,
        'Error from server (Forbidden): deployments.apps "web" is forbidden: User "amphi-test" cannot get resource "deployments" in API group "apps" in the namespace "shop"\n',
      );
      const apply = await kubectl(kc, APPLY, { input: shopYaml("shop") });
      assert.notEqual(apply.code, 0);
      assert.match(apply.stderr, /Forbidden|forbidden: User "amphi-test" cannot patch resource "services"/);
      assert.match(apply.stdout, /deployment\.apps\/web serverside-applied/, "the other object is still applied");
    } finally {
      double.allowAll();
    }
    assert.equal((await kubectl(kc, ["get", "deploy", "web", "-n", "shop"])).code, 0);
  });

  test("an unknown context or a closed port fails fast with a connection error", async () => {
    const unknown = await kubectl(kc, ["get", "ns"], { context: "no-such-context" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /context was not found for specified context: no-such-context/);
    const closed = await kubectl(kc, ["get", "ns", "--request-timeout=2s"], { context: UNREACHABLE_CONTEXT });
    assert.equal(closed.code, 1);
    assert.match(closed.stderr, /connection refused/);
    assert.ok(closed.ms < 5000, `took ${closed.ms} ms`);
  });

  test("kubectl create generators (protobuf bodies) create namespaces, configmaps, secrets, deployments, services", async () => {
    await kubectlOk(kc, ["create", "namespace", "gen"]);
    await kubectlOk(kc, ["create", "configmap", "cfg", "-n", "gen", "--from-literal=a=1"]);
    await kubectlOk(kc, ["create", "secret", "generic", "pw", "-n", "gen", "--from-literal=pw=hunter2"]);
    await kubectlOk(kc, ["create", "deployment", "d", "-n", "gen", "--image=nginx:1.27", "--replicas=3", "--port=80"]);
    await kubectlOk(kc, ["create", "service", "clusterip", "d", "-n", "gen", "--tcp=80:8080"]);
    assert.deepEqual(double.get("ConfigMap", "gen", "cfg")?.data, { a: "1" });
    assert.deepEqual(double.get("Secret", "gen", "pw")?.data, { pw: Buffer.from("hunter2").toString("base64") });
    const d = double.get("Deployment", "gen", "d") as J;
    assert.equal(d.spec.replicas, 3);
    assert.equal(d.spec.strategy.type, "RollingUpdate");
    assert.deepEqual(d.spec.template.spec.containers[0].ports, [{ containerPort: 80, protocol: "TCP" }]);
    assert.equal(d.metadata.managedFields[0].manager, "kubectl-create");
    const svc = double.get("Service", "gen", "d") as J;
    assert.deepEqual(svc.spec.ports, [{ name: "80-8080", port: 80, protocol: "TCP", targetPort: 8080 }]);
    const dup = await kubectl(kc, ["create", "namespace", "gen"]);
    assert.equal(dup.stderr, 'Error from server (AlreadyExists): namespaces "gen" already exists\n');
  });

  test("kubectl scale changes spec.replicas through the scale subresource", async () => {
    await kubectlOk(kc, ["scale", "deployment", "web", "-n", "shop", "--replicas=4"]);
    const d = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop", "--show-managed-fields"])) as J;
    assert.equal(d.spec.replicas, 4);
    assert.ok(d.metadata.managedFields.some((m: J) => m.subresource === "scale" && m.fieldsV1["f:spec"]["f:replicas"]));
    await kubectlOk(kc, [...APPLY, "--force-conflicts"], { input: shopYaml("shop") });
  });

  test("kubectl rollout status waits (watch) until setDeploymentStatus reports the rollout done", async () => {
    const pending = kubectl(kc, ["rollout", "status", "deployment/web", "-n", "shop", "--timeout=10s"]);
    await new Promise((r) => setTimeout(r, 300));
    const live = double.get("Deployment", "shop", "web") as J;
    double.setDeploymentStatus("shop", "web", {
      observedGeneration: live.metadata.generation,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    const done = await pending;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /deployment "web" successfully rolled out/);
  });

  test("with autoReady, applied Deployments are Available at once (kubectl wait)", async () => {
    double.autoReady = true;
    try {
      await kubectlOk(kc, APPLY, { input: shopYaml("shop", { name: "ready", replicas: 3 }) });
      const r = await kubectl(kc, ["wait", "--for=condition=Available", "deployment/ready", "-n", "shop", "--timeout=5s"]);
      assert.equal(r.code, 0, r.stderr);
      const d = double.get("Deployment", "shop", "ready") as J;
      assert.equal(d.status.availableReplicas, 3);
      assert.equal(d.status.observedGeneration, 1);
    } finally {
      double.autoReady = false;
    }
  });
});

describe("kubectl with legacy (non-aggregated) discovery", { skip: skipWithoutKubectl() }, () => {
  test("api-resources and a server-side apply work from the per-group documents", async (t) => {
    const double = await startKubeApiServer({ aggregatedDiscovery: false, namespaces: ["shop"] });
    const kc = await kubeconfigFor(double);
    try {
      const out = await kubectlOk(kc, ["api-resources", "--no-headers"]);
      assert.match(out, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
      const r = await kubectl(kc, APPLY, { input: shopYaml("shop") });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(double.requests.some((q) => q.path === "/apis/apps/v1"), "kubectl read /apis/apps/v1");
      const writes = double.requests.filter((q) => q.method === "PATCH");
      assert.deepEqual(writes.map((q) => [q.contentType, q.query.fieldManager]), [
        ["application/apply-patch+yaml", "amphi"],
        ["application/apply-patch+yaml", "amphi"],
      ]);
      t.diagnostic(`requests for one cold apply: ${double.requests.map((q) => `${q.method} ${q.path}`).join(", ")}`);
    } finally {
      await double.close();
      kc.cleanup();
    }
  });
});

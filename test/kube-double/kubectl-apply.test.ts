// The real kubectl against the kube-apiserver double: server-side apply (create, no-op re-apply,
// one-field change, conflicts and --force-conflicts), listing by amphi's labels, and both dry runs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { kubeconfigFor, type TempKubeconfig } from "../support/kubeconfig.js";
import { kubectl, kubectlJson, kubectlOk, skipWithoutKubectl } from "./kubectl.js";
import { shopYaml } from "./manifests.js";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed kubectl JSON
const SELECTOR = "app.kubernetes.io/managed-by=amphi,amphi.dev/env=prod";
const APPLY = ["apply", "--server-side", "--field-manager=amphi", "-f", "-"];

/** Every leaf of a JSON value as path → JSON text, to compare two objects field by field. */
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

describe("kubectl apply --server-side against the double", { skip: skipWithoutKubectl() }, () => {
  let double: KubeApiDouble;
  let kc: TempKubeconfig;
  before(async () => {
    double = await startKubeApiServer();
    kc = await kubeconfigFor(double);
  });
  after(async () => {
    await double?.close();
    kc?.cleanup();
  });

  test("a Service and a Deployment are created, listed by label with managedFields and defaults", async (t) => {
    await kubectlOk(kc, ["create", "namespace", "shop"]);
    const applied = await kubectl(kc, APPLY, { input: shopYaml("shop") });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "service/web serverside-applied\ndeployment.apps/web serverside-applied\n");
    t.diagnostic(`kubectl apply --server-side of 2 objects: ${applied.ms} ms`);

    const list = (await kubectlJson(kc, ["get", "deploy,svc", "-l", SELECTOR, "-n", "shop", "--show-managed-fields"])) as J;
    assert.equal(list.kind, "List");
    assert.deepEqual(list.items.map((i: J) => `${i.kind}/${i.metadata.name}`), ["Deployment/web", "Service/web"]);
    const [deploy, svc] = list.items as J[];
    for (const obj of [deploy!, svc!]) {
      assert.match(obj.metadata.resourceVersion, /^\d+$/);
      assert.match(obj.metadata.uid, /^[0-9a-f-]{36}$/);
      const amphi = obj.metadata.managedFields.find((m: J) => m.manager === "amphi");
      assert.equal(amphi?.operation, "Apply");
      assert.equal(amphi?.fieldsType, "FieldsV1");
      assert.deepEqual(amphi?.fieldsV1["f:metadata"]["f:labels"]["f:amphi.dev/env"], {});
    }
    const fields = deploy!.metadata.managedFields[0].fieldsV1["f:spec"]["f:template"]["f:spec"];
    assert.ok(fields["f:containers"]['k:{"name":"app"}']["f:ports"]['k:{"containerPort":8080,"protocol":"TCP"}']);
    assert.ok(fields["f:initContainers"]['k:{"name":"migrate"}']["f:args"]);
    assert.equal(deploy!.metadata.generation, 1);
    assert.equal(deploy!.spec.revisionHistoryLimit, 10);
    assert.equal(deploy!.spec.progressDeadlineSeconds, 600);
    assert.equal(deploy!.spec.strategy.type, "RollingUpdate");
    const app = deploy!.spec.template.spec.containers[0];
    assert.deepEqual([app.imagePullPolicy, app.terminationMessagePath, app.resources], ["IfNotPresent", "/dev/termination-log", {}]);
    assert.equal(deploy!.spec.template.spec.initContainers[0].terminationMessagePolicy, "File");
    assert.equal(svc!.spec.type, "ClusterIP");
    assert.match(svc!.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.equal(svc!.spec.sessionAffinity, "None");
    assert.deepEqual(svc!.spec.ports, [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }]);
  });

  test("re-applying the same manifests writes nothing; changing one image changes only that field", async () => {
    await kubectlOk(kc, ["create", "namespace", "shop-2"]);
    await kubectlOk(kc, APPLY, { input: shopYaml("shop-2") });
    const first = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-2"])) as J;
    const svcFirst = (await kubectlJson(kc, ["get", "svc", "web", "-n", "shop-2"])) as J;

    const again = await kubectl(kc, APPLY, { input: shopYaml("shop-2") });
    assert.equal(again.code, 0, again.stderr);
    const second = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-2"])) as J;
    assert.deepEqual(second, first, "a no-op apply leaves the object (and its resourceVersion) alone");
    assert.deepEqual(await kubectlJson(kc, ["get", "svc", "web", "-n", "shop-2"]), svcFirst);

    await kubectlOk(kc, APPLY, { input: shopYaml("shop-2", { image: "registry.example/shop/web:1.1" }) });
    const third = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-2"])) as J;
    assert.deepEqual(changedFields(first, third), [
      ".metadata.generation",
      ".metadata.resourceVersion",
      ".spec.template.spec.containers[0].image",
    ]);
    assert.equal(third.metadata.generation, 2);
    assert.ok(Number(third.metadata.resourceVersion) > Number(first.metadata.resourceVersion));
    assert.deepEqual(await kubectlJson(kc, ["get", "svc", "web", "-n", "shop-2"]), svcFirst, "the Service is untouched");
  });

  test("a field changed by kubectl patch conflicts with amphi's apply until --force-conflicts", async () => {
    await kubectlOk(kc, ["create", "namespace", "shop-3"]);
    await kubectlOk(kc, APPLY, { input: shopYaml("shop-3") });
    await kubectlOk(kc, ["patch", "deployment", "web", "-n", "shop-3", "--type=merge", "-p", '{"spec":{"replicas":5}}']);

    const conflicted = await kubectl(kc, APPLY, { input: shopYaml("shop-3", { replicas: 3 }) });
    assert.notEqual(conflicted.code, 0);
    assert.match(conflicted.stderr, /Apply failed with 1 conflict: conflict with "kubectl-patch" using apps\/v1: \.spec\.replicas/);
    assert.match(conflicted.stderr, /--force-conflicts/);
    assert.equal(double.get("Deployment", "shop-3", "web")?.spec && (double.get("Deployment", "shop-3", "web")!.spec as J).replicas, 5);

    const forced = await kubectl(kc, [...APPLY, "--force-conflicts"], { input: shopYaml("shop-3", { replicas: 3 }) });
    assert.equal(forced.code, 0, forced.stderr);
    const live = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-3", "--show-managed-fields"])) as J;
    assert.equal(live.spec.replicas, 3);
    const owners = live.metadata.managedFields.filter((m: J) => m.fieldsV1["f:spec"]?.["f:replicas"]).map((m: J) => m.manager);
    assert.deepEqual(owners, ["amphi"], "ownership of .spec.replicas moved to amphi");
    assert.ok(!live.metadata.managedFields.some((m: J) => m.manager === "kubectl-patch"), "kubectl-patch owns nothing left");
  });

  test("a field amphi stops applying is removed; one another manager also owns is kept", async () => {
    await kubectlOk(kc, ["create", "namespace", "shop-4"]);
    const withoutEnv = (name: string) => {
      const yaml = shopYaml("shop-4", { name }).replace(/ +env:\n +- name: MODE\n +value: prod\n/, "");
      assert.notEqual(yaml, shopYaml("shop-4", { name }), "the env block was cut from the manifest");
      return yaml;
    };
    await kubectlOk(kc, APPLY, { input: shopYaml("shop-4", { name: "web" }) + "---\n" + shopYaml("shop-4", { name: "api" }) });
    double.write(
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api", namespace: "shop-4" },
        spec: { template: { spec: { containers: [{ name: "app", env: [{ name: "MODE", value: "prod" }] }] } } } },
      { manager: "other-tool", apply: true },
    );
    await kubectlOk(kc, APPLY, { input: withoutEnv("web") + "---\n" + withoutEnv("api") });
    const web = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-4"])) as J;
    assert.equal(web.spec.template.spec.containers[0].env, undefined);
    assert.equal(web.spec.template.spec.containers[0].imagePullPolicy, "IfNotPresent", "defaults stay");
    const api = (await kubectlJson(kc, ["get", "deploy", "api", "-n", "shop-4"])) as J;
    assert.deepEqual(api.spec.template.spec.containers[0].env, [{ name: "MODE", value: "prod" }], "still owned by other-tool");
  });

  test("objects applied client-side move to amphi on the first server-side apply (kubectl's JSON patch)", async () => {
    await kubectlOk(kc, ["create", "namespace", "shop-csa"]);
    await kubectlOk(kc, ["apply", "-f", "-"], { input: shopYaml("shop-csa") });
    const applied = await kubectl(kc, APPLY, { input: shopYaml("shop-csa") });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stderr, "", "no migration warning");
    const jsonPatches = double.requests.filter((r) => r.contentType === "application/json-patch+json" && r.path.includes("shop-csa"));
    assert.equal(jsonPatches.length, 2, "one managedFields migration per object");
    const live = (await kubectlJson(kc, ["get", "deploy", "web", "-n", "shop-csa", "--show-managed-fields"])) as J;
    assert.deepEqual(live.metadata.managedFields.map((m: J) => `${m.manager}/${m.operation}`), ["amphi/Apply"]);
    assert.equal(live.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"], undefined);
  });

  test("--dry-run=server and --dry-run=client accept the manifests and store nothing", async () => {
    await kubectlOk(kc, ["create", "namespace", "shop-dry"]);
    const file = join(kc.dir, "shop-dry.yaml");
    writeFileSync(file, shopYaml("shop-dry"));
    const before = double.objects().length;
    const server = await kubectl(kc, ["apply", "--dry-run=server", "--server-side", "--field-manager=amphi", "-f", file]);
    assert.equal(server.code, 0, server.stderr);
    assert.equal(server.stdout, "service/web serverside-applied (server dry run)\ndeployment.apps/web serverside-applied (server dry run)\n");
    const client = await kubectl(kc, ["apply", "--dry-run=client", "-f", file]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, "service/web created (dry run)\ndeployment.apps/web created (dry run)\n");
    assert.equal(double.objects().length, before);
    const dryPatches = double.requests.filter((r) => r.method === "PATCH" && r.query.dryRun === "All");
    assert.equal(dryPatches.length, 2);
  });

  test("a server dry run reports what the server rejects (namespace missing, invalid object)", async () => {
    const missing = await kubectl(kc, ["apply", "--dry-run=server", "--server-side", "-f", "-"], { input: shopYaml("no-such-ns") });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /namespaces "no-such-ns" not found/);
    const bad = shopYaml("shop-dry").replace("image: registry.example/envoy:1.30", 'image: ""');
    const invalid = await kubectl(kc, ["apply", "--dry-run=server", "--server-side", "-f", "-"], { input: bad });
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /The Deployment "web" is invalid: spec\.template\.spec\.containers\[1\]\.image: Required value/);
  });
});

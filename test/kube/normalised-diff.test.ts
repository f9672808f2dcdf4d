// The normalised diff against live objects as the API server returns them (defaults filled in, quantities in
// canonical form, `creationTimestamp: null` in the template, Service targetPort/clusterIP, status and
// managedFields): what amphi just applied plans no changes. A field another controller owns is a change
// until an ignore rule names it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyObjects, readCluster } from "../../src/adapters/kubectl/index.js";
import { diff } from "../../src/diff/index.js";
import type { ClusterPlacement, IgnoreRule, Model } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { kubeTestTarget, type KubeTestTarget } from "../support/kubeconfig.js";
import { modelFixture, withCapture } from "../support/model-fixture.js";
import {
  actualOf, clusterOf, deleteNamespaces, kubectlOptions, kubectlText, moveToNamespace, objectsOf, skipWithoutKubectl, uniqueNamespace,
} from "./support.js";

/** The fixture with values the API server rewrites: `0.5` CPU, `1024Mi`, `2000m`, `0.5Gi`, and env values that
 * look like numbers or booleans. */
function awkwardModel(ns: string, capture: boolean): Model {
  const model = moveToNamespace(withCapture(modelFixture(), capture), "prod", ns);
  for (const p of model.environments[0]!.placements) {
    if (p.type !== "cluster") continue;
    const c = (p as ClusterPlacement).container;
    if (p.app === "catalog") c.resources = { requests: { cpu: "0.5", memory: "1024Mi" }, limits: { cpu: "2000m", memory: "0.5Gi" } };
    if (p.app === "user") c.env = [{ name: "RATIO", value: "1.10", secret: false }, { name: "ON", value: "yes", secret: false }, { name: "ZIP", value: "007", secret: false }];
  }
  return model;
}

describe("normalised diff against live objects", { skip: skipWithoutKubectl() }, () => {
  let target: KubeTestTarget;
  const namespaces = new Set<string>();
  before(async () => {
    target = await kubeTestTarget();
  });
  after(async () => {
    await deleteNamespaces(target, namespaces);
    await target?.close();
  });

  for (const capture of [true, false]) {
    test(`just-applied objects plan no changes (capture ${capture ? "on" : "off"}, canonical quantities, env as strings)`, async () => {
      const ns = uniqueNamespace(`norm-${capture}`);
      namespaces.add(ns);
      const desired = render(awkwardModel(ns, capture), "prod");
      const cluster = clusterOf(target, "eu1", ns);
      const result = await applyObjects(cluster, objectsOf(desired.resources), kubectlOptions(target));
      assert.deepEqual(result.failed, []);
      const { resources } = await readCluster(cluster, "prod", kubectlOptions(target));
      const catalog = resources.find((r) => r.key === `k8s/eu1/Deployment/${ns}/catalog`)!.object as unknown as { spec: { template: { spec: { containers: { resources: unknown }[] } } } };
      assert.deepEqual(catalog.spec.template.spec.containers[0]!.resources, { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "512Mi" } }, "stored in canonical form");
      const d = diff({ env: "prod", resources: desired.resources.filter((r) => r.runtime === "k8s") }, actualOf("prod", resources), { ignore: [] });
      assert.deepEqual(d.changes.map((c) => `${c.op} ${c.key} ${c.op === "update" ? JSON.stringify(c.fields) : ""}`), []);
      assert.equal(d.unchanged.length, desired.resources.filter((r) => r.runtime === "k8s").length);
    });
  }

  test("replicas scaled by another controller are a change, unless an ignore rule names /spec/replicas", async () => {
    const ns = uniqueNamespace("scaled");
    namespaces.add(ns);
    const desired = render(awkwardModel(ns, true), "prod");
    const k8sDesired = { env: "prod", resources: desired.resources.filter((r) => r.runtime === "k8s") };
    const cluster = clusterOf(target, "eu1", ns);
    await applyObjects(cluster, objectsOf(desired.resources), kubectlOptions(target));
    await kubectlText(target, ["scale", "deployment", "web", "-n", ns, "--replicas=4"]);
    const actual = actualOf("prod", (await readCluster(cluster, "prod", kubectlOptions(target))).resources);
    const plain = diff(k8sDesired, actual, { ignore: [] });
    assert.deepEqual(plain.changes.map((c) => (c.op === "update" ? [c.key, c.fields] : c.key)), [
      [`k8s/eu1/Deployment/${ns}/web`, [{ path: "spec.replicas", from: 4, to: 2 }]],
    ]);
    const hpa: IgnoreRule = { kind: "Deployment", app: "web", jsonPointers: ["/spec/replicas"] };
    assert.deepEqual(diff(k8sDesired, actual, { ignore: [hpa] }).changes, []);
  });
});

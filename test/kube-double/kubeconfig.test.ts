// The kubeconfig helper: what it writes, and how kubeTestTarget picks a double or a real cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { load } from "js-yaml";
import { DOUBLE_CONTEXT, UNREACHABLE_CONTEXT, kubeTestTarget, writeKubeconfig } from "../support/kubeconfig.js";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML

test("writeKubeconfig writes one cluster, user and context per spec in its own temp dir", () => {
  const kc = writeKubeconfig([
    { name: "a", server: "http://127.0.0.1:1", namespace: "shop" },
    { name: "b", server: "http://127.0.0.1:2" },
  ]);
  try {
    const doc = load(readFileSync(kc.path, "utf8")) as J;
    assert.equal(doc["current-context"], "a");
    assert.deepEqual(doc.contexts[0], { name: "a", context: { cluster: "a", user: "a", namespace: "shop" } });
    assert.deepEqual(doc.clusters[1], { name: "b", cluster: { server: "http://127.0.0.1:2" } });
    assert.deepEqual(kc.args("b"), ["--kubeconfig", kc.path, "--context", "b"]);
    assert.equal(kc.env.KUBECONFIG, kc.path);
    assert.ok(kc.env.KUBECACHEDIR?.startsWith(kc.dir));
  } finally {
    kc.cleanup();
  }
  assert.equal(existsSync(kc.dir), false);
});

test("kubeTestTarget starts a double, or names the real context from AMPHI_TEST_KUBE_CONTEXT", async () => {
  const saved = process.env.AMPHI_TEST_KUBE_CONTEXT;
  try {
    delete process.env.AMPHI_TEST_KUBE_CONTEXT;
    const local = await kubeTestTarget();
    assert.ok(local.double);
    assert.deepEqual(local.kubeconfig.contexts, [DOUBLE_CONTEXT, UNREACHABLE_CONTEXT]);
    await local.close();
    assert.equal(existsSync(local.kubeconfig.dir), false);

    process.env.AMPHI_TEST_KUBE_CONTEXT = "kind-amphi";
    const real = await kubeTestTarget();
    assert.equal(real.double, undefined);
    assert.deepEqual(real.kubeconfig.args().slice(2), ["--context", "kind-amphi"]);
    await real.close();
  } finally {
    if (saved === undefined) delete process.env.AMPHI_TEST_KUBE_CONTEXT;
    else process.env.AMPHI_TEST_KUBE_CONTEXT = saved;
  }
});

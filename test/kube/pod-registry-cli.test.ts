// Pod instances through the CLI: `amphi reconcile --once` syncs the ready pods of the example's staging
// cluster (the kube-apiserver double, driven by the real kubectl) into the Consul double, and `amphi drift`
// names a ready pod that Consul lacks — the wiring of the cycle and of drift, not only the sync itself.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { readPodRegistrations } from "../../src/adapters/consul/pods.js";
import { EXAMPLE_AGE_KEY, amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { kubectlText, skipWithoutKubectl } from "./support.js";
import { eventually, serve } from "../server/support.js";

describe("amphi reconcile and drift with pods in Consul", { skip: skipWithoutKubectl() }, () => {
  let dir = "";
  let double: KubeApiDouble;
  let consul: ConsulDouble;
  let kube: TempKubeconfig;
  // The example's secrets key: serve applies staging, whose web has a secret (issue 13).
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env, AMPHI_AGE_KEY_FILE: EXAMPLE_AGE_KEY });
  const cli = (args: string[]) => amphi([...args, "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());
  const k = (args: string[], input?: string) => kubectlText({ kubeconfig: kube, double, close: async () => {} }, args, input);

  before(async () => {
    ({ dir } = await exampleCopy("amphi-pod-registry"));
    consul = await startConsulDouble();
    const envFile = join(dir, "environments/staging.yaml");
    // Clusters only: the host group and its placement are not what this test is about.
    const text = readFileSync(envFile, "utf8")
      .replace("address: http://127.0.0.1:8500", `address: ${consul.url}`)
      .replace(/  hostGroups:\n(    .*\n|  - .*\n)*?(?=  placements:)/, "")
      .replace("  - app: billing\n    hostGroup: local\n", "")
      .replace(/  status:\n    provider: gitnotes\n/, "");
    writeFileSync(envFile, text);
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "kind-dev", server: double.url }]);
  });
  after(async () => {
    await double?.close();
    await consul?.close();
    kube?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reconcile --once registers the ready pod; drift named it missing before", async () => {
    const first = await cli(["reconcile", "--once"]);
    assert.equal(first.code, 0, first.stderr);
    // No pod controller in the double: a pod of web's Deployment, made ready as a kubelet would.
    const pod = {
      apiVersion: "v1", kind: "Pod",
      metadata: { name: "web-5c9d-abcde", namespace: "shop", labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": "web", "amphi.dev/env": "staging" } },
      spec: { containers: [{ name: "app", image: "registry.example.com/shop/web:4.2.0" }] },
    };
    await k(["apply", "-f", "-"], JSON.stringify(pod));
    await k(["patch", "pod", pod.metadata.name, "-n", "shop", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { podIP: "10.1.0.5", conditions: [{ type: "Ready", status: "True" }] } })]);

    const drift = await cli(["drift"]);
    assert.equal(drift.code, 2, drift.stdout + drift.stderr);
    assert.match(drift.stdout, /registry +web\/shop\.web-5c9d-abcde-\d+ +pod shop\/web-5c9d-abcde is ready but not registered in Consul \(want 10\.1\.0\.5:\d+\)/);

    const again = await cli(["reconcile", "--once"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /staging: pods: register +web\/shop\.web-5c9d-abcde-\d+ 10\.1\.0\.5:\d+ version 4\.2\.0 \(new\)/);
    const regs = await readPodRegistrations(new ConsulClient({ address: consul.url }), "staging");
    assert.deepEqual(regs.map((r) => [r.node, r.service, r.address, r.version, r.check]), [["amphi-k8s-dev", "web", "10.1.0.5", "4.2.0", "passing"]]);
    const clean = await cli(["drift"]);
    assert.doesNotMatch(clean.stdout, /web-5c9d-abcde/);
  });

  it("amphi serve watches the pods: ready → registered, not ready → gone, within seconds", async () => {
    const srv = await serve(["--repo", dir, "--env", "staging", "--listen", "127.0.0.1:0", "--interval", "1h", "--kubeconfig", kube.path], dir, env());
    const client = new ConsulClient({ address: consul.url });
    const has = async (address: string) => ((await readPodRegistrations(client, "staging")).some((r) => r.address === address) ? true : undefined);
    try {
      await eventually(async () => (/staging \S+ \(start\)/.test(srv.log()) ? true : undefined), 60_000, "the first cycle");
      const name = "user-7f8e-serve";
      const pod = {
        apiVersion: "v1", kind: "Pod",
        metadata: { name, namespace: "shop", labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": "user", "amphi.dev/env": "staging" } },
        spec: { containers: [{ name: "app", image: "registry.example.com/shop/user:1.4.2" }] },
      };
      await k(["apply", "-f", "-"], JSON.stringify(pod));
      const status = (ready: boolean) => JSON.stringify({ status: { podIP: "10.1.0.6", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] } });
      let t0 = performance.now();
      await k(["patch", "pod", name, "-n", "shop", "--subresource=status", "--type=merge", "-p", status(true)]);
      await eventually(() => has("10.1.0.6"), 15_000, "the ready pod registered by serve");
      const up = performance.now() - t0;
      t0 = performance.now();
      await k(["patch", "pod", name, "-n", "shop", "--subresource=status", "--type=merge", "-p", status(false)]);
      await eventually(async () => ((await has("10.1.0.6")) ? undefined : true), 15_000, "the unready pod gone");
      const down = performance.now() - t0;
      console.log(`amphi serve pod watch: ready→registered ${up.toFixed(0)} ms, not ready→gone ${down.toFixed(0)} ms`);
      assert.match(srv.log(), /staging: pods: deregister +user\/shop\.user-7f8e-serve-\d+ 10\.1\.0\.6:\d+: pod shop\/user-7f8e-serve on dev is not ready/);
    } finally {
      assert.equal(await srv.stop(), 0, srv.log());
    }
  });
});

// One plan and one run across both runtimes, through the CLI: the example's `staging` environment (a
// cluster reached with the real kubectl — here the kube-apiserver double — and a local host group).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import type { K8sObject } from "../../src/model/index.js";

const noKubectl = !existsSync("/usr/bin/kubectl") && process.env.CI !== "true" ? "kubectl is not installed" : false;

describe("amphi apply on clusters and hosts in one run", { skip: noKubectl }, () => {
  let dir = "";
  let double: KubeApiDouble;
  let consul: ConsulDouble;
  let kube: TempKubeconfig;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env });
  const run = (args: string[]) => amphi([...args, "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());

  before(async () => {
    ({ dir } = await exampleCopy("amphi-apply-mixed"));
    // staging registers in Consul: a double on port 0 stands in for its 127.0.0.1:8500, so every target
    // of the run can be seen (an unseen one would make plan and apply exit 3).
    consul = await startConsulDouble();
    const envFile = join(dir, "environments/staging.yaml");
    writeFileSync(envFile, readFileSync(envFile, "utf8").replace("address: http://127.0.0.1:8500", `address: ${consul.url}`));
    double = await startKubeApiServer({ autoReady: true });
    // staging's cluster `dev` uses context kind-dev: point it at the double.
    kube = writeKubeconfig([{ name: "kind-dev", server: double.url }]);
  });

  after(async () => {
    await amphi(["demo", "--repo", dir, "--env", "staging", "--down"], dir, env());
    await double?.close();
    await consul?.close();
    kube?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("plans both runtimes against live state, applies them in waves, then has nothing to do", async () => {
    const plan = await amphi(["plan", "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stdout, /wave 1\s+k8s\s+dev\s+catalog\s+create\s+Deployment\/shop\/catalog/);
    assert.match(plan.stdout, /wave 2\s+vm\s+local\/localhost\s+billing\s+create/);
    const r = await run(["apply", "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /k8s-apply\s+succeeded \(changed\)/);
    assert.match(r.stderr, /deploy billing\s+succeeded \(changed\)/);
    const names = double.objects({ namespace: "shop" }).map((o) => { const k = o as unknown as K8sObject; return `${k.kind}/${k.metadata.name}`; }).sort();
    for (const n of ["Deployment/catalog", "Deployment/user", "Deployment/web", "Service/web", "ConfigMap/amphi-proxy-web"]) assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    const again = await amphi(["plan", "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());
    assert.equal(again.code, 0, again.stdout);
  });

  it("an image change is one field of one Deployment, and apply changes only that", async () => {
    const spec = join(dir, "apps/web/spec.yaml");
    writeFileSync(spec, readFileSync(spec, "utf8").replace("web:4.2.0", "web:4.3.0"));
    const plan = await amphi(["plan", "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());
    assert.equal(plan.code, 2);
    const steps = plan.stdout.split("\n").filter((l) => /^wave/.test(l));
    assert.equal(steps.length, 1, plan.stdout);
    assert.match(steps[0]!, /k8s\s+dev\s+web\s+update\s+Deployment\/shop\/web\s+spec\.template\.spec\.containers\[name=app\]\.image .*web:4\.2\.0→.*web:4\.3\.0$/);
    const r = await run(["apply", "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    const web = double.get("Deployment", "shop", "web") as unknown as K8sObject;
    const containers = (web.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
    assert.equal(containers.find((c) => c.name === "app")!.image, "registry.example.com/shop/web:4.3.0");
  });

  it("a cluster that cannot be reached is unknown in the plan, and hosts are still planned", async () => {
    const bad = writeKubeconfig([{ name: "kind-dev", server: "http://127.0.0.1:1" }]);
    try {
      const plan = await amphi(["plan", "--env", "staging", "--repo", dir, "--kubeconfig", bad.path], dir, { ...process.env, ...bad.env });
      assert.equal(plan.code, 3, "a plan that could not see the cluster is not 'no changes'");
      for (const key of ["k8s/dev/Deployment/shop/web", "k8s/dev/Service/shop/web", "k8s/dev/ConfigMap/shop/amphi-proxy-web"]) {
        assert.match(plan.stdout, new RegExp(`unknown\\s+k8s\\s+dev\\s+web\\s+-\\s+${key}\\s+cluster unreachable: `));
      }
      assert.match(plan.stdout, /0 to delete, 2 unchanged/);
    } finally {
      bad.cleanup();
    }
  });
});

// Registry drift of pods in what a reconcile cycle reports, not only in `amphi drift`: a ready pod that Consul
// lacks is an item of the app's row in the cycle's report and turns its commit status (git notes) — when the
// cycle may not fix it (self-heal off, config already applied; exit 2) — and is gone from both once a cycle
// with self-heal registers it. Real kubectl against the kube-apiserver double, the Consul double, a real Git repo.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { readPodRegistrations } from "../../src/adapters/consul/pods.js";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, git, initRepo, writeFiles } from "../support/git-repo.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { kubectlText, skipWithoutKubectl } from "./support.js";

type Note = { statuses: { context: string; state: string; description: string }[] };

describe("a reconcile cycle reports pods missing from Consul", { skip: skipWithoutKubectl() }, () => {
  let dir = "";
  let double: KubeApiDouble;
  let consul: ConsulDouble;
  let kube: TempKubeconfig;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env });
  const cli = (args: string[]) => amphi([...args, "--env", "staging", "--repo", dir, "--kubeconfig", kube.path], dir, env());
  const k = (args: string[], input?: string) => kubectlText({ kubeconfig: kube, double, close: async () => {} }, args, input);
  const latestReport = () => JSON.parse(readFileSync(join(dir, ".amphi/reports/staging/latest.json"), "utf8")) as { rows: { app: string; runtime: string; target: string; items: { kind: string; object: string; detail: string; registry?: string }[] }[] };
  const note = async (): Promise<Note> => JSON.parse(await git(dir, "notes", "--ref", "amphi", "show", "HEAD")) as Note;

  before(async () => {
    ({ dir } = await exampleCopy("amphi-pod-cycle"));
    consul = await startConsulDouble();
    const envFile = join(dir, "environments/staging.yaml");
    // Clusters only (statuses in git notes kept): the host group and its placement are not what this is about.
    const text = readFileSync(envFile, "utf8")
      .replace("address: http://127.0.0.1:8500", `address: ${consul.url}`)
      .replace(/  hostGroups:\n(    .*\n|  - .*\n)*?(?=  placements:)/, "")
      .replace("  - app: billing\n    hostGroup: local\n", "");
    writeFileSync(envFile, text);
    writeFiles(dir, { ".gitignore": ".amphi/\n" });
    await initRepo(dir);
    await commitAll(dir, "example config, clusters only");
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "kind-dev", server: double.url }]);
  });
  after(async () => {
    await double?.close();
    await consul?.close();
    kube?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the pod in the report and the app's status while self-heal is off; a self-healing cycle registers it and both clear", async () => {
    const first = await cli(["reconcile", "--once"]);
    assert.equal(first.code, 0, first.stderr);
    const pod = {
      apiVersion: "v1", kind: "Pod",
      metadata: { name: "web-5c9d-cycle", namespace: "shop", labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": "web", "amphi.dev/env": "staging" } },
      spec: { containers: [{ name: "app", image: "registry.example.com/shop/web:4.2.0" }] },
    };
    await k(["apply", "-f", "-"], JSON.stringify(pod));
    await k(["patch", "pod", pod.metadata.name, "-n", "shop", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { podIP: "10.1.0.5", conditions: [{ type: "Ready", status: "True" }] } })]);

    const held = await cli(["reconcile", "--once", "--no-self-heal"]);
    assert.equal(held.code, 2, held.stderr);
    assert.match(held.stderr, /staging drift \(once\).*pods: 1 registry item \(web\/shop\.web-5c9d-cycle-\d+ missing\)/);
    const web = latestReport().rows.find((r) => r.app === "web" && r.runtime === "k8s" && r.target === "dev");
    assert.ok(web, JSON.stringify(latestReport().rows.map((r) => [r.app, r.runtime, r.target])));
    assert.ok(
      web.items.some((i) => i.kind === "registry" && i.registry === "missing" && /pod shop\/web-5c9d-cycle is ready but not registered in Consul \(want 10\.1\.0\.5:\d+\)/.test(i.detail)),
      JSON.stringify(web.items),
    );
    const status = (await note()).statuses.find((s) => s.context === "amphi/staging/web");
    assert.ok(status && status.state !== "success", JSON.stringify(status));
    assert.match(status.description, /missing/);
    assert.equal((await readPodRegistrations(new ConsulClient({ address: consul.url }), "staging")).length, 0, "self-heal off wrote nothing");

    const healed = await cli(["reconcile", "--once"]);
    assert.equal(healed.code, 0, healed.stderr);
    assert.match(healed.stderr, /staging: pods: register +web\/shop\.web-5c9d-cycle-\d+ 10\.1\.0\.5/);
    const after = latestReport().rows.find((r) => r.app === "web" && r.runtime === "k8s" && r.target === "dev")!;
    assert.deepEqual(after.items.filter((i) => /web-5c9d-cycle/.test(i.object + i.detail)), []);
    const clean = (await note()).statuses.find((s) => s.context === "amphi/staging/web");
    assert.equal(clean?.state, "success", JSON.stringify(clean));
  });
});

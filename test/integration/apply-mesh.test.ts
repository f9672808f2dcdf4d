// `amphi apply` and traffic policy, through the CLI with the real kubectl against the kube-apiserver double: the
// first apply records the policy (with the revision) where the control plane reads it and the next plan is empty;
// a policy change alone plans only the mesh item and applies it with only a `mesh-policy` task (no kubectl apply);
// removing the policy deletes it from the applied record.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { skipWithoutKubectl, uniqueNamespace } from "../kube/support.js";
import { commitAll, initRepo } from "../support/git-repo.js";
import type { RunRecord } from "../../src/model/index.js";
import { echoApp, meshEnvHead } from "../xds/support/config.js";

const APP = echoApp("2.3.0");

function envFile(ns: string, traffic: string): string {
  return `${meshEnvHead()}  clusters:
  - name: eu1
    context: mesh-apply
    namespace: ${ns}
  placements:
  - app: echo
    cluster: eu1
${traffic}  status:
    provider: none
`;
}

describe("amphi apply: traffic policy is a plan item applied without a deploy", { skip: skipWithoutKubectl() }, () => {
  let dir = "";
  let double: KubeApiDouble;
  let kube: TempKubeconfig;
  const ns = uniqueNamespace("mesh-apply");
  before(async () => {
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "mesh-apply", server: double.url }]);
    dir = mkdtempSync(join(tmpdir(), `amphi-apply-mesh-${process.pid}-`));
    mkdirSync(join(dir, "apps/echo"), { recursive: true });
    mkdirSync(join(dir, "environments"));
    writeFileSync(join(dir, "apps/echo/spec.yaml"), APP);
    writeFileSync(join(dir, "environments/test.yaml"), envFile(ns, "  traffic:\n    echo:\n      timeout: 2s\n      retries: {attempts: 2}\n"));
    writeFileSync(join(dir, ".gitignore"), ".amphi/\n");
    await initRepo(dir);
    await commitAll(dir, "echo with a 2s timeout");
  });
  after(async () => {
    await double?.close();
    kube?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (cmd: string, more: string[] = []) => amphi([cmd, "--env", "test", "--repo", dir, "--kubeconfig", kube.path, ...more], dir, { ...process.env, ...kube.env });
  const lastRun = (): RunRecord => {
    const runs = readdirSync(join(dir, ".amphi/runs")).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(join(dir, ".amphi/runs", f), "utf8")) as RunRecord);
    return runs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0]!;
  };
  const steps = (out: string) => out.split("\n").filter((l) => l.startsWith("wave")).map((l) => l.replace(/ {2,}/g, "  "));
  const applied = () => JSON.parse(readFileSync(join(dir, ".amphi/mesh/test.json"), "utf8"));
  const head = async () => (await import("../support/git-repo.js")).git(dir, "rev-parse", "HEAD");

  test("apply records the policy with its revision; the next plan is empty", async () => {
    const first = await cli("apply", ["--yes", "--rev", "HEAD"]);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.deepEqual([...new Set(lastRun().tasks.map((t) => t.kind))].sort(), ["k8s-apply", "mesh-policy"]);
    const record = applied();
    assert.equal(record.revision, await head());
    assert.deepEqual(record.policies.map((p: { service: string; timeoutMs: number }) => [p.service, p.timeoutMs]), [["echo", 2000]]);
    const again = await cli("plan");
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test("a policy change alone plans only the mesh item (text and JSON) and applies it with only a mesh-policy task", async () => {
    writeFileSync(join(dir, "environments/test.yaml"), envFile(ns, "  traffic:\n    echo:\n      timeout: 3s\n      retries: {attempts: 3}\n"));
    await commitAll(dir, "echo: 3s, 3 retries");
    const plan = await cli("plan");
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.deepEqual(steps(plan.stdout), ["wave 1  mesh  xds  echo  update  echo  timeout 2s→3s; retries.attempts 2→3"]);
    const json = JSON.parse((await cli("plan", ["--format", "json"])).stdout);
    assert.deepEqual(json.steps.map((s: { runtime: string; op: string; fields: unknown[] }) => [s.runtime, s.op, s.fields]), [
      ["mesh", "update", [{ path: "timeout", from: "2s", to: "3s" }, { path: "retries.attempts", from: 2, to: 3 }]],
    ]);
    const apply = await cli("apply", ["--yes", "--rev", "HEAD"]);
    assert.equal(apply.code, 0, apply.stderr + apply.stdout);
    const run = lastRun();
    assert.deepEqual(run.tasks.map((t) => [t.kind, t.target, t.result]), [["mesh-policy", "xds", "changed"]], "no deploy, no kubectl apply");
    assert.equal(applied().revision, await head());
    assert.equal((await cli("plan")).code, 0);
  });

  test("a policy taken out of the config is deleted from the applied record", async () => {
    writeFileSync(join(dir, "environments/test.yaml"), envFile(ns, ""));
    await commitAll(dir, "echo: the mesh's defaults");
    const plan = await cli("plan");
    assert.deepEqual(steps(plan.stdout), ["wave 1  mesh  xds  echo  delete  echo"]);
    assert.equal((await cli("apply", ["--yes", "--rev", "HEAD"])).code, 0);
    assert.deepEqual(applied().policies, []);
    assert.equal((await cli("plan")).code, 0);
  });
});

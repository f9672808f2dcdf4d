// Self-heal through the CLI, with the real kubectl against the kube-apiserver double: after `kubectl set image`
// (another field manager, "kubectl-set") changed a field amphi renders, the next `amphi apply` takes the field
// back (server-side apply with --force-conflicts, as Flux and Argo CD do) and the next plan has no changes;
// a field under ignoreDifferences (spec.replicas, scaled by someone else as an HPA would) is not in what amphi
// applies, so forcing never takes it. An environment with `forceConflicts: false` is asked instead: the apply
// fails naming the field and the manager, and `amphi apply --force-conflicts` still takes it over.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLE_REPO } from "../../src/cli/common.js";
import { amphi } from "../support/cli.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { KUBECTL, skipWithoutKubectl, uniqueNamespace } from "./support.js";
import { spawn } from "node:child_process";

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- stored objects

/** An environment with one cluster (context `selfheal`), the user app on it, replicas left to an HPA. */
function envFile(namespace: string, extra = ""): string {
  return `apiVersion: v1
kind: Environment
spec:
  mesh:
    serviceIP: 10.255.0.1
    capture: false
    sidecar:
      image: envoyproxy/envoy:v1.31.2
${extra}  clusters:
  - name: eu1
    context: selfheal
    namespace: ${namespace}
  placements:
  - app: user
    cluster: eu1
    replicas: 2
    overrides:
      image: registry.example.com/shop/user:1.4.2
  ignoreDifferences:
  - kind: Deployment
    app: user
    jsonPointers: [/spec/replicas]
  status:
    provider: none
`;
}

describe("self-heal: amphi apply takes back fields another manager changed", { skip: skipWithoutKubectl() }, () => {
  let double: KubeApiDouble;
  let kube: TempKubeconfig;
  let dir = "";
  const namespaces: Record<string, string> = { heal: uniqueNamespace("heal"), ask: uniqueNamespace("ask") };
  before(async () => {
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "selfheal", server: double.url }]);
    dir = mkdtempSync(join(tmpdir(), `amphi-selfheal-${process.pid}-`));
    mkdirSync(join(dir, "apps"), { recursive: true });
    mkdirSync(join(dir, "environments"));
    cpSync(join(EXAMPLE_REPO, "apps/user"), join(dir, "apps/user"), { recursive: true });
    // Both environments are written up front: every command loads (and validates) the whole repo.
    writeFileSync(join(dir, "environments/heal.yaml"), envFile(namespaces.heal!));
    writeFileSync(join(dir, "environments/ask.yaml"), envFile(namespaces.ask!, "  forceConflicts: false\n"));
  });
  after(async () => {
    await double?.close();
    kube?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env });
  const cli = (cmd: string, envName: string, more: string[] = []) =>
    amphi([cmd, "--env", envName, "--repo", dir, "--kubeconfig", kube.path, ...more], dir, env());
  const kubectl = (args: string[]): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, [...kube.args(), ...args], { env: env(), stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? 1, stderr }));
    });
  const deployment = (ns: string): J => double.get("Deployment", ns, "user") as J;
  const image = (ns: string): string => deployment(ns).spec.template.spec.containers.find((c: J) => c.name === "app").image;
  const owners = (ns: string, field: (f: J) => boolean): string[] =>
    (deployment(ns).metadata.managedFields as J[]).filter((m) => field(m.fieldsV1 ?? {})).map((m) => m.manager + (m.subresource ? `/${m.subresource}` : "")).sort();
  const ownsReplicas = (f: J): boolean => f["f:spec"]?.["f:replicas"] !== undefined;
  const ownsImage = (f: J): boolean => f["f:spec"]?.["f:template"]?.["f:spec"]?.["f:containers"]?.['k:{"name":"app"}']?.["f:image"] !== undefined;
  const RENDERED = "registry.example.com/shop/user:1.4.2";

  /** Creates the environment's objects, then scales (as an HPA would) and sets the image as kubectl-set. */
  async function drifted(envName: string): Promise<string> {
    const ns = namespaces[envName]!;
    const first = await cli("apply", envName, ["--yes"]);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.equal(deployment(ns).spec.replicas, 2);
    const scaled = await kubectl(["scale", "deployment/user", "-n", ns, "--replicas=5"]);
    assert.equal(scaled.code, 0, scaled.stderr);
    const set = await kubectl(["set", "image", "deployment/user", "-n", ns, "app=evil.example.com/user:6.6.6"]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(image(ns), "evil.example.com/user:6.6.6");
    assert.deepEqual(owners(ns, ownsImage), ["kubectl-set"], "kubectl set image is an update by manager kubectl-set");
    const plan = await cli("plan", envName);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    const steps = plan.stdout.split("\n").filter((l) => /^wave/.test(l));
    assert.equal(steps.length, 1, plan.stdout);
    assert.match(steps[0]!, /update\s+Deployment\/\S+\/user\s+spec\.template\.spec\.containers\[name=app\]\.image .*evil\.example\.com\/user:6\.6\.6→/);
    assert.doesNotMatch(plan.stdout, /replicas/, "replicas are ignored: the HPA owns them");
    return ns;
  }

  test("by default, apply heals a field kubectl set image changed, leaves HPA-owned replicas alone, and the next plan is empty", async () => {
    const ns = await drifted("heal");
    const healed = await cli("apply", "heal", ["--yes"]);
    assert.equal(healed.code, 0, healed.stderr + healed.stdout);
    assert.equal(image(ns), RENDERED);
    assert.equal(deployment(ns).spec.replicas, 5, "the ignored field keeps the HPA's value");
    assert.deepEqual(owners(ns, ownsImage), ["amphi"], "amphi owns the image again");
    assert.ok(!owners(ns, ownsReplicas).includes("amphi"), `amphi gave up spec.replicas (owners: ${owners(ns, ownsReplicas).join(", ")})`);
    assert.deepEqual(owners(ns, ownsReplicas), ["kubectl/scale"], "the scaler still owns spec.replicas");
    const again = await cli("plan", "heal");
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test("forceConflicts: false in the environment asks instead: the apply fails naming field and manager; --force-conflicts takes it", async () => {
    const ns = await drifted("ask");
    const refused = await cli("apply", "ask", ["--yes"]);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /Deployment\/\S+\/user: Apply failed with 1 conflict: conflict with "kubectl-set"( using apps\/v1)?: \.spec\.template\.spec\.containers\[name="app"\]\.image/);
    assert.match(refused.stdout + refused.stderr, /--force-conflicts/);
    assert.equal(image(ns), "evil.example.com/user:6.6.6", "nothing was taken");
    const forced = await cli("apply", "ask", ["--yes", "--force-conflicts"]);
    assert.equal(forced.code, 0, forced.stderr + forced.stdout);
    assert.equal(image(ns), RENDERED);
    assert.equal(deployment(ns).spec.replicas, 5, "even forced, the ignored field is not applied");
    assert.equal((await cli("plan", "ask")).code, 0);
  });
});

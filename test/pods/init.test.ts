// amphi-init as rendered, run with the real program: the Deployment's init container (command, args,
// securityContext) and the ConfigMap's capture rules, applied in a stand-in pod namespace (test/support/pod-netns.ts)
// by Debian's iptables-nft-restore, the program of the default init image (kube-proxy's distroless-iptables is
// built from Debian's iptables package). The namespace's rules must then be exactly the rendered ones; and the
// same run fails on a flag the program does not have, or without the capability the container adds.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { K8sObject } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";
import { fleetSupported } from "../support/netns-hosts.js";
import { startPod, type StandInPod } from "../support/pod-netns.js";
import { rulesByChain } from "./support.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `network namespaces unavailable: ${support.reason}`;

type Obj = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON

function rendered(key: string, model = modelFixture()): K8sObject {
  const r = render(model, "prod").resources.find((x) => x.key === key);
  assert.ok(r && r.runtime === "k8s", `no k8s resource ${key}`);
  return structuredClone(r.object);
}

const deployment = () => rendered("k8s/eu1/Deployment/shop/catalog");
const configMap = () => rendered("k8s/eu1/ConfigMap/shop/amphi-proxy-catalog");
const init = (d: K8sObject): Obj => (d as Obj).spec.template.spec.initContainers[0];

describe("amphi-init with the real iptables-restore", { skip }, () => {
  const pods: StandInPod[] = [];
  const pod = async () => {
    if (!support.ok) assert.fail(`CI=true but network namespaces are unavailable: ${support.reason}`);
    const p = await startPod();
    pods.push(p);
    return p;
  };
  after(async () => {
    for (const p of pods) await p.cleanup();
  });

  it("accepts the rendered command and args and leaves exactly the rendered rules in the namespace", async () => {
    const p = await pod();
    const cm = configMap();
    const r = await p.applyInit(deployment(), cm);
    assert.equal(r.code, 0, r.stderr);
    const want = rulesByChain((cm as Obj).data["capture.rules"]);
    assert.deepEqual(rulesByChain(await p.iptablesSave()), want);
    assert.ok(want["nat/OUTPUT"]!.length === 1 && want["nat/AMPHI_OUTPUT"]!.length > 0, "the comparison covers the jumps and amphi's chains");
  });

  it("fails on a flag the program does not have", async () => {
    const p = await pod();
    const d = deployment();
    init(d).args = ["--no-such-flag", ...init(d).args];
    const r = await p.applyInit(d, configMap());
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unrecognized option|invalid option/i);
    assert.deepEqual(rulesByChain(await p.iptablesSave()), {}, "nothing applied");
  });

  it("needs the NET_ADMIN the container adds: without it the kernel refuses the rules", async () => {
    const p = await pod();
    const d = deployment();
    init(d).securityContext.capabilities.add = ["NET_RAW"];
    const r = await p.applyInit(d, configMap());
    assert.notEqual(r.code, 0, "applied without NET_ADMIN?");
    assert.match(r.stderr, /permi|not permitted|denied/i);
  });

  it("starts the sidecar container as rendered: its args (pod name expanded), its bootstrap file, as the proxy uid", async () => {
    const p = await pod();
    const model = withEnvironment(modelFixture(), (env) => ({ ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.5", port: 18000 } } }));
    const cm = rendered("k8s/eu1/ConfigMap/shop/amphi-proxy-catalog", model);
    // A stand-in for the Envoy binary that reports what it was started with.
    const report = `const fs = require("fs"); const a = process.argv.slice(1); const at = a.indexOf("--config-path");
      console.log(JSON.stringify({ args: a, uid: process.getuid(), gid: process.getgid(), podName: process.env.POD_NAME, config: fs.readFileSync(a[at + 1], "utf8") }));`;
    const child = p.startContainer(rendered("k8s/eu1/Deployment/shop/catalog", model), cm, "amphi-proxy", { binary: [process.execPath, "-e", report, "--"], podName: "catalog-7d9f8-x2x4q" });
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(code, 0, err);
    const seen = JSON.parse(out) as { args: string[]; uid: number; gid: number; podName: string; config: string };
    assert.deepEqual(seen.args.filter((a, i) => seen.args[i - 1] !== "--config-path"), ["--config-path", "--service-cluster", "catalog", "--service-node", "sidecar~prod~catalog~catalog-7d9f8-x2x4q"]);
    assert.equal(seen.config, (cm as Obj).data["envoy.yaml"]);
    assert.deepEqual([seen.uid, seen.gid, seen.podName], [1337, 1337, "catalog-7d9f8-x2x4q"]);
  });
});

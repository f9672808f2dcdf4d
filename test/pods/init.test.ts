// amphi-init as rendered, run with the real program: the Deployment's init container (command, args,
// securityContext) and the ConfigMap's capture rules, applied in a stand-in pod namespace (test/support/pod-netns.ts)
// by Debian's iptables-nft-restore, the program of the default init image (kube-proxy's distroless-iptables is
// built from Debian's iptables package). The namespace's rules must then be exactly the rendered ones; and the
// same run fails on a flag the program does not have, or without the capability the container adds.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { K8sObject } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture } from "../support/model-fixture.js";
import { fleetSupported } from "../support/netns-hosts.js";
import { startPod, type StandInPod } from "../support/pod-netns.js";
import { rulesByChain } from "./support.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `network namespaces unavailable: ${support.reason}`;

type Obj = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON

function rendered(key: string): K8sObject {
  const r = render(modelFixture(), "prod").resources.find((x) => x.key === key);
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
});

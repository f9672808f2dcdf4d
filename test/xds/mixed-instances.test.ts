// One service, two runtimes, one gRPC client (issue 11: "instances on netns hosts and pod endpoints from the kube
// double both take part"; "VM and pod instances of one service both reachable by name for the gRPC client").
//
// The app `echo` (one `grpc` port) runs
// - on a netns sshd host (test/support/netns-hosts.ts), deployed by `amphi apply` from a package whose server.mjs
//   is a real @grpc/grpc-js echo server answering `vm-<host>@<package version>`; amphi registers it in the Consul
//   double (on the fleet's root address, so the host's health reporter reaches it) with a TTL check;
// - as a pod of the kube-apiserver double (real kubectl): the Deployment comes from the same `amphi apply`, the
//   pod is made Ready through the status subresource as a kubelet would, with status.podIP = the address of a
//   real gRPC echo server the test runs (answering `pod-<name>`); amphi's pod sync registers it.
// `amphi xds` (in-process) serves the environment from that Consul, and a real @grpc/grpc-js-xds client (child
// process) calls `xds:///echo:<port>`: both instances answer; the pod goes not ready → the next sync deregisters
// it → only the VM answers; the pod is ready again, then the VM's health reporter is removed → its TTL check
// expires while its app still runs → only the pod answers (the VM's app, called directly, still answers).
//
// Network: the client and the pod's echo server run in the root namespace, which reaches every fleet host
// directly (its veth into the fleet bridge, fleet.rootAddress): the pod's "pod IP" is fleet.rootAddress, so the
// pod address is routable from the hosts too, as the README's network assumption asks. Both echo servers listen
// on the same targetPort, each on its own address (the host has its own namespace).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { removeReporter } from "../../src/hosts/reporter.js";
import * as grpc from "@grpc/grpc-js";
import { amphi } from "../support/cli.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { buildPackage, killUnder } from "../support/local-host.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { kubectlText, skipWithoutKubectl, uniqueNamespace } from "../kube/support.js";
import { startEcho, ECHO_METHOD, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";

const support = fleetSupported();
const noKubectl = skipWithoutKubectl();
const skip = !support.ok
  ? process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`
  : noKubectl;
const TOKEN = "amphi-mixed-xds-test-token";
const VERSION = "1.0.0";
const POD_IMAGE_TAG = "2.0.0";
const GRPC_JS = createRequire(import.meta.url).resolve("@grpc/grpc-js");

/** The package's server: the same echo service as test/xds/support/echo.ts (raw bytes, one method), answering
 * `vm-<host>@<version>`, on 0.0.0.0:<port> of the host's namespace. */
const SERVER_MJS = `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const grpc = createRequire(import.meta.url)(${JSON.stringify(GRPC_JS)});
const [port, id] = process.argv.slice(2);
const answer = Buffer.from(id + "@" + readFileSync(new URL("./VERSION", import.meta.url), "utf8").trim());
const identity = (b) => b;
const server = new grpc.Server();
server.addService({ Call: { path: ${JSON.stringify(ECHO_METHOD)}, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } }, {
  Call: (_call, cb) => cb(null, answer),
});
server.bindAsync("0.0.0.0:" + port, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { console.error(err.message); process.exit(1); }
  console.log("echo " + id + " on " + port);
});
for (const s of ["SIGTERM", "SIGINT"]) process.on(s, () => server.tryShutdown(() => process.exit(0)));
`;

/** Resolves with the time at which `ok` first held (polled every 20 ms, for at most 60 s). */
async function when(ok: () => boolean): Promise<number> {
  for (const end = Date.now() + 60_000; !ok(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error("timed out");
  }
  return Date.now();
}

/** One echo call straight to `address` (no xDS): the id that answered. */
function callDirect(address: string): Promise<string> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure());
  const id = (b: Buffer) => b;
  return new Promise<string>((resolve, reject) =>
    c.makeUnaryRequest(ECHO_METHOD, id, id, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!.toString()))),
  ).finally(() => c.close());
}

describe("one service on a netns host and in a pod, one proxyless gRPC client", { skip }, () => {
  let fleet: TestFleet;
  let consul: ConsulDouble;
  let kubeApi: KubeApiDouble;
  let kube: TempKubeconfig;
  let podEcho: Echo;
  let repo = "";
  const ns = uniqueNamespace("mixed");
  const podName = "echo-6d5f-mixed";
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env, AMPHI_CONSUL_TOKEN: TOKEN });
  const cli = (args: string[]) => amphi([...args, "--env", "fleet", "--repo", repo, "--kubeconfig", kube.path], repo, env());
  const k = (args: string[], input?: string) => kubectlText({ kubeconfig: kube, double: kubeApi, close: async () => {} }, args, input);
  const setReady = (ready: boolean) =>
    k(["patch", "pod", podName, "-n", ns, "--subresource=status", "--type=merge", "-p",
      JSON.stringify({ status: { phase: "Running", podIP: fleet.rootAddress, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] } })]);
  const instances = () =>
    consul.state().services.filter((s) => s.Service === "echo").map((s) => `${s.Address}:${s.Port} ${s.Tags.filter((t) => t.startsWith("version:") || t.startsWith("runtime:")).join(",")}`).sort();

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 1 });
    consul = await startConsulDouble({ host: fleet.rootAddress, token: TOKEN });
    kubeApi = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "mixed", server: kubeApi.url }]);
    // The pod's server first: its port (free on the root address) becomes the service's targetPort, which is
    // free on the host too (its own namespace).
    podEcho = await startEcho(`pod-${podName}`, fleet.rootAddress);
    const port = podEcho.port;
    repo = mkdtempSync(join(tmpdir(), `amphi-mixed-xds-${process.pid}-`));
    mkdirSync(join(repo, "packages"));
    mkdirSync(join(repo, "apps/echo"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    const pkg = buildPackage(join(repo, "packages"), "echo", { "server.mjs": SERVER_MJS, VERSION: `${VERSION}\n` });
    const h = fleet.hosts[0]!;
    writeFileSync(join(repo, "apps/echo/spec.yaml"), `apiVersion: v1
kind: Application
spec:
  services:
  - name: echo
    ports:
    - targetPort: ${port}
      protocol: grpc
  container:
    image: registry.example.com/test/echo:${POD_IMAGE_TAG}
  package:
    version: "${VERSION}"
    path: packages/echo.tar.gz
    sha256: ${pkg.sha256}
    start: node server.mjs ${port} vm-${h.name}
`);
    writeFileSync(join(repo, "environments/fleet.yaml"), `apiVersion: v1
kind: Environment
spec:
  mesh: { serviceIP: 10.255.0.1, capture: false, sidecar: { image: envoyproxy/envoy:v1.31.2 } }
  consul: { address: "${consul.url}", tokenEnv: AMPHI_CONSUL_TOKEN, checkTTL: 3s, deregisterCriticalAfter: 1m }
  clusters:
  - { name: kd, context: mixed, namespace: ${ns} }
  hostGroups:
  - name: fleet
    transport: ssh
    ssh: { user: root, identityFile: ${fleet.privateKeyPath}, knownHostsFile: ${fleet.knownHostsPath} }
    hosts:
    - { name: ${h.name}, address: ${h.address}, baseDir: ${h.baseDir} }
  placements:
  - { app: echo, hostGroup: fleet }
  - { app: echo, cluster: kd }
`);
  });

  after(async () => {
    if (fleet) {
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    await podEcho?.close();
    await consul?.close();
    await kubeApi?.close();
    kube?.cleanup();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("apply puts echo on the host and in the cluster; the pod's and the VM's instances both answer xds:///echo, and each leaves when it stops being ready or healthy", async () => {
    const port = podEcho.port;
    const target = `xds:///echo:${port}`;
    const vmId = `vm-${fleet.hosts[0]!.name}@${VERSION}`;
    const podId = `pod-${podName}`;

    let t0 = performance.now();
    const applied = await cli(["apply", "--yes"]);
    assert.equal(applied.code, 0, applied.stderr);
    console.log(`# amphi apply (netns host + kube double): ${(performance.now() - t0).toFixed(0)} ms`);
    assert.match(applied.stderr, /k8s-apply echo\s+succeeded \(changed\)/);
    assert.match(applied.stderr, /deploy echo\s+succeeded \(changed\)/);
    assert.doesNotMatch(applied.stdout + applied.stderr, new RegExp(TOKEN), "the token never reaches output");

    // No pod controller in the double: a pod of echo's Deployment, made ready as a kubelet would.
    const pod = {
      apiVersion: "v1", kind: "Pod",
      metadata: { name: podName, namespace: ns, labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": "echo", "amphi.dev/env": "fleet" } },
      spec: { containers: [{ name: "app", image: `registry.example.com/test/echo:${POD_IMAGE_TAG}` }] },
    };
    await k(["apply", "-f", "-"], JSON.stringify(pod));
    await setReady(true);
    const synced = await cli(["apply", "--yes"]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, new RegExp(`fleet: pods: register +echo/${ns}\\.${podName}-${port} ${fleet.rootAddress.replace(/\./g, "\\.")}:${port} version ${POD_IMAGE_TAG.replace(/\./g, "\\.")} \\(new\\)`));
    assert.deepEqual(instances(), [`${fleet.hosts[0]!.address}:${port} version:${VERSION}`, `${fleet.rootAddress}:${port} version:${POD_IMAGE_TAG},runtime:k8s`].sort());

    // The VM's check passes once its reporter has reported (TTL 3 s, a report every second).
    const vmCheck = `service:echo-${fleet.hosts[0]!.name}-${port}`;
    const checkStatus = () => consul.state().checks.find((c) => c.CheckID === vmCheck)?.Status;
    for (const end = Date.now() + 15_000; checkStatus() !== "passing"; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > end) assert.fail(`the VM's check never passed: ${checkStatus()}`);
    }

    let xdsErr = "";
    const ac = new AbortController();
    let listening: (line: string) => void = () => {};
    const started = new Promise<string>((r) => (listening = r));
    const done = run(["xds", "--repo", repo, "--env", "fleet", "--listen", "127.0.0.1:0", "--consul", consul.url],
      { out: () => {}, err: (t) => { xdsErr += t; if (t.includes("listening on")) listening(t); }, cwd: repo, env: env() }, ac.signal);
    const line = await Promise.race([started, done.then((code) => assert.fail(`amphi xds exited ${code}: ${xdsErr}`))]);
    const client = new XdsClientProcess(Number(/listening on [0-9.]+:(\d+)/.exec(line)![1]), "grpc-client~mixed");
    try {
      // Both runtimes answer the one name.
      const both = await client.calls(target, 40);
      assert.deepEqual(both.errors, {}, client.stderr + xdsErr);
      assert.deepEqual(Object.keys(both.by).sort(), [podId, vmId].sort(), JSON.stringify(both.by));
      console.log(`# both instances: ${JSON.stringify(both.by)} over 40 calls`);

      // The pod stops being ready: the next sync (a run of amphi apply) deregisters it, the push follows.
      let watching = client.watch(target, 20_000);
      const tPatch = Date.now();
      const podGone = when(() => !instances().some((i) => i.includes("runtime:k8s")));
      await setReady(false);
      const resync = await cli(["apply", "--yes"]);
      const tSynced = Date.now();
      assert.equal(resync.code, 0, resync.stderr);
      assert.match(resync.stderr, new RegExp(`fleet: pods: deregister +echo/${ns}\\.${podName}-${port} .*is not ready`));
      assert.deepEqual(instances(), [`${fleet.hosts[0]!.address}:${port} version:${VERSION}`]);
      const tGone = await podGone;
      const vmOnly = await client.calls(target, 30);
      assert.deepEqual(vmOnly, { ...vmOnly, by: { [vmId]: 30 }, errors: {} }, client.stderr);
      let { log } = await watching;
      const lastPod = Math.max(...log.filter(([, s]) => s === podId).map(([t]) => t));
      console.log(`# pod not ready → deregistered by the sync ${tGone - tPatch} ms after the status patch (apply done after ${tSynced - tPatch} ms); last call to the pod ${lastPod - tGone} ms after the test saw it deregistered (polled every 20 ms) (${log.length} calls watched)`);
      assert.deepEqual(log.filter(([, s]) => s.startsWith("!")).slice(0, 5), [], "no call failed while the pod left");
      assert.ok(lastPod - tGone < 5000, `the pod still got calls ${lastPod - tGone} ms after it left Consul`);
      assert.ok(log.filter(([t]) => t > tGone + 5000).every(([, s]) => s === vmId), "only the VM after the sync");

      // The pod is ready again (registered by the next sync), then the VM's app stops: its reporter fails the check.
      await setReady(true);
      const back = await cli(["apply", "--yes"]);
      assert.equal(back.code, 0, back.stderr);
      const again = await client.calls(target, 40);
      assert.deepEqual(Object.keys(again.by).sort(), [podId, vmId].sort(), JSON.stringify(again.by) + client.stderr);

      // The VM's health fails in Consul while its app still answers: its reporter is removed, so its TTL check
      // (3 s) expires. Only the control plane can then keep calls off it.
      watching = client.watch(target, 12_000);
      await new Promise((r) => setTimeout(r, 500));
      const tStop = Date.now();
      const critical = when(() => checkStatus() === "critical");
      const connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
      const h = fleet.hosts[0]!;
      try {
        const session = await connector.open({ group: "fleet", host: h.name, address: h.address, transport: "ssh", ssh: { user: "root", port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null }, baseDir: h.baseDir });
        assert.equal(await removeReporter({ session, env: "fleet", now: () => new Date().toISOString(), log: () => {} }, "echo"), true);
      } finally {
        await connector.closeAll();
      }
      const tStopped = Date.now();
      const tCritical = await critical;
      assert.match(consul.state().checks.find((c) => c.CheckID === vmCheck)?.Output ?? "", /TTL expired/);
      ({ log } = await watching);
      const lastVm = Math.max(...log.filter(([, s]) => s === vmId).map(([t]) => t));
      console.log(`# VM reporter removed (${tStopped - tStop} ms) → TTL check critical ${tCritical - tStop} ms after the removal began → last call to the VM ${lastVm - tCritical} ms after the test saw it critical (polled every 20 ms; negative: the push came first) (${log.length} calls watched)`);
      assert.deepEqual(log.filter(([, s]) => s.startsWith("!")).slice(0, 5), [], "no call failed while the VM left");
      assert.ok(lastVm - tCritical < 5000, `the VM still got calls ${lastVm - tCritical} ms after its check went critical`);
      assert.ok(log.filter(([t]) => t > tCritical + 5000).every(([, s]) => s === podId), "only the pod once the check is critical");
      const podOnly = await client.calls(target, 30);
      assert.deepEqual(podOnly, { ...podOnly, by: { [podId]: 30 }, errors: {} }, client.stderr);
      assert.equal(await callDirect(`${h.address}:${port}`), vmId, "the VM's app still answers when called directly: the control plane, not a dead server, keeps calls off it");
    } finally {
      await client.close();
      ac.abort();
      assert.equal(await done, 0, xdsErr);
    }
    assert.match(xdsErr, /stopped: proxies=1 pushes=\d+ nacks=0/);
  });
});

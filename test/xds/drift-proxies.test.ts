// A proxy that NACKs is drift: `amphi xds` publishes what it knows of its proxies next to the applied policy
// (the file backend here), and `amphi drift` — which never talks to the control plane — names a real
// @grpc/grpc-js-xds client's NACK in the mesh row of its app (exit 2); after `amphi reconcile --once` puts the
// desired policy back and the client reconnects and ACKs, drift is in sync (exit 0). A dead replica's record
// (stale heartbeat) names no live proxy. The cluster is the kube-apiserver double, driven by the real kubectl.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { run } from "../../src/cli/main.js";
import { ConsulClient, passCheck, register } from "../../src/adapters/consul/index.js";
import { FileMeshPolicyStore, FileProxyStatusStore } from "../../src/adapters/state/mesh-store.js";
import { amphi } from "../support/cli.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { skipWithoutKubectl } from "../kube/support.js";
import { registrationFixture } from "../consul/helpers.js";
import { eventually } from "../server/support.js";
import { startEcho, type Echo } from "./support/echo.js";
import { XdsClientProcess } from "./support/client-process.js";
import { ECHO_ON_DEV, echoApp, meshEnvHead } from "./support/config.js";

const NODE = "sidecar~test~echo~vm-1";
const APP = echoApp("1.0.0");
const envFile = (consul: string) => `${meshEnvHead(consul)}${ECHO_ON_DEV}  traffic:
    echo:
      outlierDetection: {consecutive5xx: 3, maxEjectionPercent: 50}
  state:
    backend: file
    path: state
`;

describe("amphi drift names proxies that NACK", { skip: skipWithoutKubectl() }, () => {
  let dir = "";
  let consul: ConsulDouble;
  let double: KubeApiDouble;
  let kube: TempKubeconfig;
  const echoes: Echo[] = [];
  const cli = (args: string[]) => amphi([...args, "--env", "test", "--repo", dir, "--kubeconfig", kube.path], dir, { ...process.env, ...kube.env });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `amphi-xds-drift-${process.pid}-`));
    mkdirSync(join(dir, "apps/echo"), { recursive: true });
    mkdirSync(join(dir, "environments"));
    consul = await startConsulDouble();
    writeFileSync(join(dir, "apps/echo/spec.yaml"), APP);
    writeFileSync(join(dir, "environments/test.yaml"), envFile(consul.url));
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "kind-dev", server: double.url }]);
    const client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
    for (const [i, host] of ["vm-1", "vm-2"].entries()) {
      const e = await startEcho(`echo-${host}`, `127.0.0.${40 + i}`);
      echoes.push(e);
      // Not amphi's registrations (no amphi tag): instances the mesh serves, not registry drift of this config.
      const id = `echo-${host}-${e.port}`;
      const check = { checkId: `service:${id}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" };
      await register(client, registrationFixture({ service: "echo", host, address: e.address, port: e.port, env: "test", check, tags: [], meta: {} }));
      await passCheck(client, check.checkId, "test");
    }
  });
  after(async () => {
    await double?.close();
    await consul?.close();
    kube?.cleanup();
    await Promise.all(echoes.map((e) => e.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("NACK → drifted item in the app's mesh row (exit 2); reconcile, reconnect, ACK → in sync; a stale record is no live proxy", async () => {
    const first = await cli(["reconcile", "--once"]);
    assert.equal(first.code, 0, first.stderr);
    const clean = await cli(["drift"]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);

    const ac = new AbortController();
    let err = "";
    let seen: (line: string) => void = () => {};
    const listening = new Promise<string>((resolve) => (seen = resolve));
    const done = run(["xds", "--repo", dir, "--env", "test", "--listen", "127.0.0.1:0"], { out: () => {}, err: (t) => { err += t; if (t.includes("listening on")) seen(t); }, cwd: dir, env: {} }, ac.signal);
    const port = Number(/listening on [0-9.]+:(\d+)/.exec(await Promise.race([listening, done.then((c) => assert.fail(`amphi xds exited ${c}: ${err}`))]))![1]);
    const proxies = new FileProxyStatusStore(join(dir, "state"), "test");
    const policy = new FileMeshPolicyStore(join(dir, "state"), "test");
    let grpcClient = new XdsClientProcess(port, NODE);
    try {
      const ok = await grpcClient.calls("xds:///echo:50051", 10);
      assert.deepEqual(ok.errors, {}, grpcClient.stderr + err);
      // The published record says the proxy is connected and ACKed its clusters.
      await eventually(async () => ((await proxies.readAll()).some((r) => r.proxies.some((p) => p.id === NODE && p.connected && p.types["cluster"]?.acked)) ? true : undefined), 120_000, "the record of the connected proxy");

      // Someone changes the applied record by hand to a value gRPC rejects: the control plane pushes it, the client NACKs.
      const applied = (await policy.read())!;
      await policy.write({ ...applied, policies: applied.policies.map((p) => ({ ...p, outlierDetection: { ...p.outlierDetection!, maxEjectionPercent: 150 } })) });
      await eventually(async () => ((await proxies.readAll()).some((r) => r.proxies.some((p) => p.id === NODE && p.types["cluster"]?.nacked)) ? true : undefined), 120_000, "the NACK in the record");

      const nacked = await cli(["drift", "--format", "json"]);
      assert.equal(nacked.code, 2, nacked.stdout + nacked.stderr);
      const row = JSON.parse(nacked.stdout).rows.find((r: any) => r.app === "echo" && r.runtime === "mesh" && r.target === "xds");
      const item = row?.items.find((i: any) => i.kind === "proxy");
      assert.equal(item?.object, NODE, JSON.stringify(row));
      assert.equal(item.proxy, "nacked");
      assert.match(item.detail, /^NACKed cluster version \S+ \(runs \S+\): .*max_ejection_percent out of range/);
      assert.equal(row.status, "drifted");
      assert.equal(row.health, "degraded");
      const text = await cli(["drift"]);
      assert.match(text.stdout, /proxy +sidecar~test~echo~vm-1 +NACKed cluster version/);

      // The loop puts the desired policy back; the client reconnects and ACKs it.
      const repair = await cli(["reconcile", "--once"]);
      assert.equal(repair.code, 0, repair.stderr);
      await grpcClient.close();
      grpcClient = new XdsClientProcess(port, NODE);
      const again = await grpcClient.calls("xds:///echo:50051", 10);
      assert.deepEqual(again.errors, {}, grpcClient.stderr);
      await eventually(async () => ((await proxies.readAll()).some((r) => r.proxies.some((p) => p.id === NODE && p.connected && p.types["cluster"]?.acked && !p.types["cluster"]?.nacked)) ? true : undefined), 120_000, "the ACK in the record");
      const healed = await cli(["drift"]);
      assert.equal(healed.code, 0, healed.stdout + healed.stderr);

      // A dead replica's record: its heartbeat is old, so its NACKing proxy is not reported.
      await proxies.publish({
        env: "test",
        replica: "dead-replica",
        heartbeatAt: new Date(Date.now() - 120_000).toISOString(),
        proxies: [{ id: "sidecar~test~echo~vm-9", connected: true, since: new Date(Date.now() - 600_000).toISOString(), types: { cluster: { acked: "1", nacked: "2", error: "bad" } } }],
      });
      const stale = await cli(["drift"]);
      assert.equal(stale.code, 0, stale.stdout + stale.stderr);
      assert.doesNotMatch(stale.stdout, /vm-9/);
    } finally {
      await grpcClient.close();
      ac.abort();
      assert.equal(await done, 0, err);
    }
    // A replica that stops cleanly withdraws its record; the dead one's stays (its heartbeat says it is stale).
    assert.deepEqual(readdirSync(join(dir, "state/mesh/test.proxies")), ["dead-replica.json"]);
  });
});

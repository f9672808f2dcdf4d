// End to end in network namespaces, as issue 12 describes a VM host: instances registered in the Consul double,
// `amphi xds` serving the environment from it, the sidecar (the Envoy test double, or a real Envoy with
// AMPHI_TEST_ENVOY) bootstrapped with src/mesh/bootstrap.ts as the proxy uid on host0, whose capture rules are the
// ones amphi renders, applied with the real iptables-restore. `curl http://10.255.0.1:9100/ -H 'Host: billing:9100'`
// from host0 reaches the passing instance on another host, follows Consul when checks change, an outside client
// reaches host0's app through the inbound capture, and without the sidecar neither path works.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConsulClient, failCheck, passCheck, register } from "../../src/adapters/consul/index.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { registrationFixture } from "../consul/helpers.js";
import { startListening, type Listening } from "../support/cli.js";
import { meshEnvHead } from "../xds/support/config.js";
import type { RunningEnvoy } from "../support/envoy.js";
import { MESH_IP, run, skipNoNetns, startWorld, type World } from "./support.js";

const BILLING = `apiVersion: v1
kind: Application
spec:
  services:
  - name: billing
    ports:
    - targetPort: 9100
      protocol: http
  container:
    image: registry.example.com/test/billing:1.0.0
`;

describe("VM sidecar end to end: Consul → amphi xds → sidecar → instance (netns)", { skip: skipNoNetns }, () => {
  let world: World;
  let consul: ConsulDouble;
  let client: ConsulClient;
  let repo: string;
  let xds: Listening;
  let sidecar: RunningEnvoy;
  const checks: string[] = [];

  /** `curl` on host i as the test user; the first line it printed, or `ERR <exit>`. */
  const curl = async (i: number, url: string, host?: string): Promise<string> => {
    const r = await run([...world.inHost(i, world.user.uid), "curl", "-sS", "--max-time", "5", ...(host ? ["-H", `Host: ${host}`] : []), url]);
    return r.code === 0 ? r.stdout.split("\n")[0]! : `ERR ${r.code}`;
  };

  before(async () => {
    world = await startWorld();
    consul = await startConsulDouble();
    client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
    for (const [host, address, port] of [["vm-1", world.h1, 8001], ["vm-2", world.h2, 8002]] as const) {
      const reg = registrationFixture({ service: "billing", host, address, port, env: "prod", check: { checkId: `service:billing-${host}`, ttl: "10m", deregisterCriticalServiceAfter: "1h", notes: "test" } });
      await register(client, reg);
      checks.push(reg.check.checkId);
    }
    await passCheck(client, checks[0]!, "test");
    repo = mkdtempSync(join(tmpdir(), `amphi-envoy-e2e-${process.pid}-`));
    mkdirSync(join(repo, "apps/billing"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    writeFileSync(join(repo, "apps/billing/spec.yaml"), BILLING);
    writeFileSync(join(repo, "environments/prod.yaml"), `${meshEnvHead(consul.url)}  clusters:\n  - name: dev\n    context: kind-dev\n    namespace: test\n  placements:\n  - app: billing\n    cluster: dev\n`);
    xds = await startListening("xds", ["--repo", repo, "--env", "prod", "--listen", `${world.fleet.rootAddress}:0`, "--consul", consul.url]);
    sidecar = await world.startSidecar({ host: world.fleet.rootAddress, port: xds.port }, "sidecar~prod~web~web-h0");
  });
  after(async () => {
    await sidecar?.stop("SIGKILL");
    await xds?.stop();
    await consul?.close();
    await world?.close();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("curl by Host through capture and the sidecar reaches the passing instance only", async () => {
    for (let i = 0; i < 6; i++) assert.equal(await curl(0, `http://${MESH_IP}:9100/`, "billing:9100"), "h1:8001", sidecar.output() + xds.err());
  });

  it("follows Consul: the failing instance gets no calls, the one that passes does", async () => {
    await passCheck(client, checks[1]!, "test");
    await failCheck(client, checks[0]!, "test: down");
    const deadline = Date.now() + 30_000;
    let got = "";
    while (Date.now() < deadline && (got = await curl(0, `http://${MESH_IP}:9100/`, "billing:9100")) !== "h2:8002") await new Promise((r) => setTimeout(r, 200));
    assert.equal(got, "h2:8002", sidecar.output());
    for (let i = 0; i < 5; i++) assert.equal(await curl(0, `http://${MESH_IP}:9100/`, "billing:9100"), "h2:8002");
  });

  it("an outside client reaches host0's app through the inbound capture", async () => {
    assert.equal(await curl(1, `http://${world.fleet.hosts[0]!.address}:8091/`), "h0:8091");
  });

  it("says it is a double, stops on SIGTERM with exit 0, and without it the captured paths are closed", async (t) => {
    const v = await run([...world.inHost(0, 1337), (await import("../support/envoy.js")).envoyBinary(), "--version"]);
    if (process.env["AMPHI_TEST_ENVOY"]) t.diagnostic(`real Envoy: ${v.stdout.trim()}`);
    else assert.match(v.stdout, /envoy-test-double\/\d+\.\d+\.\d+ \(not Envoy\)/);
    assert.equal(await sidecar.stop("SIGTERM"), 0, sidecar.output());
    // Closed, not open elsewhere or hanging: capture still redirects both paths to the proxy's ports, where nothing
    // listens now, so the connection is refused (curl exit 7), not timed out (28) or cut mid-answer (52/56).
    assert.equal(await curl(0, `http://${MESH_IP}:9100/`, "billing:9100"), "ERR 7");
    assert.equal(await curl(1, `http://${world.fleet.hosts[0]!.address}:8091/`), "ERR 7");
  });
});

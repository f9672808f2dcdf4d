// The Envoy binary the tests run (the double, or AMPHI_TEST_ENVOY) as a process, in the root namespace with ports
// 0: command line, bootstrap validation, /ready before and after the control plane answers, the node it names,
// keeping its config across a control-plane restart, and the admin's quit.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dump, load } from "js-yaml";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { envoyBootstrap, envoyBootstrapYaml } from "../../src/mesh/bootstrap.js";
import { doubleLauncher, envoyBinary, isDouble, startEnvoy, type RunningEnvoy } from "../support/envoy.js";
import { plainSnapshot, policySnapshot } from "../mesh/snapshots.js";
import { freePort } from "../support/ports.js";
import { spawnSync } from "../support/spawn.js";

const ports0 = <T extends { settings: object }>(s: T): T => ({ ...s, settings: { ...s.settings, outboundPort: 0, inboundPort: 0 } });

const bootstrap = (xdsPort: number, nodeId = "sidecar~prod~web~web-1") => envoyBootstrapYaml({ nodeId, nodeCluster: "web", metadata: { runtime: "vm" }, controlPlane: { host: "127.0.0.1", port: xdsPort }, adminPort: 0 });

describe("Envoy binary: command line and bootstrap", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `amphi-envoy-cli-${process.pid}-`));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const envoy = (args: string[]) => spawnSync(envoyBinary(), args, { encoding: "utf8", timeout: 60_000 });

  it("--version says what it is (the double: plainly not Envoy)", { skip: !isDouble() && "real Envoy" }, () => {
    const r = envoy(["--version"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /envoy-test-double\/\d+\.\d+\.\d+ \(not Envoy\)/);
  });

  it("refuses an unknown flag with exit 1 and Envoy's message", () => {
    const r = envoy(["--no-such-flag"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /PARSE ERROR: Argument: --no-such-flag/);
  });

  it("--mode validate: the bootstrap amphi renders is OK; an unknown field, or an unimplemented one, is exit 1 naming it", () => {
    const good = join(dir, "good.yaml");
    writeFileSync(good, bootstrap(18000));
    const ok = envoy(["--mode", "validate", "-c", good]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /OK/);
    const json = join(dir, "good.json");
    writeFileSync(json, JSON.stringify(load(readFileSync(good, "utf8"))));
    assert.equal(envoy(["--mode", "validate", "--config-path", json]).status, 0, "JSON works too");
    const misspelt = join(dir, "misspelt.yaml");
    writeFileSync(misspelt, dump({ ...envoyBootstrap({ nodeId: "n", nodeCluster: "c", metadata: {}, controlPlane: { host: "127.0.0.1", port: 1 }, adminPort: 0 }), dynamic_resource: {} }));
    const bad = envoy(["--mode", "validate", "-c", misspelt]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /dynamic_resource/);
    if (!isDouble()) return;
    const unimplemented = join(dir, "unimplemented.yaml");
    writeFileSync(unimplemented, dump({ ...envoyBootstrap({ nodeId: "n", nodeCluster: "c", metadata: {}, controlPlane: { host: "127.0.0.1", port: 1 }, adminPort: 0 }), overload_manager: {} }));
    const r = envoy(["--mode", "validate", "-c", unimplemented]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /overload_manager: not implemented by the Envoy test double/);
  });

  it("the launcher with absolute paths runs the double from anywhere (e.g. copied into a package)", { skip: !isDouble() && "real Envoy" }, () => {
    const copy = join(dir, "bin", "envoy");
    mkdirSync(join(dir, "bin"));
    writeFileSync(copy, doubleLauncher(), { mode: 0o755 });
    const r = spawnSync(copy, ["--version"], { encoding: "utf8", cwd: "/", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(not Envoy\)/);
  });

  it("without -c: exit 1", () => {
    const r = envoy([]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--config-path/);
  });
});

describe("Envoy binary: readiness, node, reconnect, quit", () => {
  const running: RunningEnvoy[] = [];
  const servers: AdsServer[] = [];
  after(async () => {
    await Promise.all(running.map((e) => e.stop("SIGKILL")));
    await Promise.all(servers.map((s) => s.close()));
  });
  /** Starts Envoy with admin on port 0 (startEnvoy learns the port bound through --admin-address-path). */
  const start = async (xdsPort: number, args: string[] = []) => {
    const e = startEnvoy({ bootstrap: bootstrap(xdsPort), args });
    running.push(e);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && (await e.adminRequest("/ready").catch(() => null)) === null) await new Promise((r) => setTimeout(r, 50));
    return e;
  };
  const node = (server: AdsServer, id: string) => server.status().nodes.find((n) => n.id === id);

  it("answers /ready 503 until the control plane has served it, then 200 LIVE; the node id is --service-node's", async () => {
    const port = await freePort();
    const e = await start(port, ["--service-node", "sidecar~prod~web~override"]);
    const early = await e.adminRequest("/ready");
    assert.equal(early.status, 503);
    assert.match(early.body, /PRE_INITIALIZING|INITIALIZING/);
    const server = new AdsServer();
    servers.push(server);
    await server.listen(`127.0.0.1:${port}`);
    server.setSnapshot(ports0(plainSnapshot()));
    await e.waitReady(90_000);
    assert.equal((await e.adminRequest("/ready")).body, "LIVE\n");
    assert.ok(node(server, "sidecar~prod~web~override"), JSON.stringify(server.status().nodes));
    const info = JSON.parse((await e.adminRequest("/server_info")).body);
    assert.equal(info.state, "LIVE");
  });

  it("keeps serving its config while the control plane is away, and takes the new one when it is back", async () => {
    const port = await freePort();
    let server = new AdsServer();
    await server.listen(`127.0.0.1:${port}`);
    server.setSnapshot(ports0(plainSnapshot()));
    const e = await start(port);
    await e.waitReady(90_000);
    const clusters = async () => JSON.parse((await e.adminRequest("/config_dump")).body).configs[1].dynamic_active_clusters.map((c: any) => c.cluster.name).sort();
    const before = await clusters();
    assert.ok(before.includes("outbound|8080||web"), before.join(" "));
    await server.close();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await e.adminRequest("/ready")).status, 200, "still live");
    assert.deepEqual(await clusters(), before, "config kept");
    server = new AdsServer();
    servers.push(server);
    await server.listen(`127.0.0.1:${port}`);
    server.setSnapshot(ports0(policySnapshot()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !(await clusters()).includes("outbound|9100|2.4.0|billing")) await new Promise((r) => setTimeout(r, 100));
    const afterwards = await clusters();
    assert.ok(afterwards.includes("outbound|9100|2.4.0|billing") && !afterwards.includes("outbound|8080||web"), afterwards.join(" "));
  });

  it("POST /quitquitquit ends it with exit 0 (GET is refused)", async () => {
    const port = await freePort();
    const e = await start(port);
    assert.equal((await e.adminRequest("/quitquitquit")).status, 405);
    assert.equal((await e.adminRequest("/quitquitquit", "POST")).status, 200);
    assert.equal(await e.exited, 0);
  });
});

// The VM sidecar on a netns host (issue 12): Envoy (the test double in test/support/envoy, or a real one with
// AMPHI_TEST_ENVOY) deployed and supervised by the sidecar task from `mesh.sidecar.binary` and from a package,
// bootstrapped to amphi's ADS server; capture rules refused while it does not answer and installed once it does, after
// which an outside client reaches the app through the inbound listener; a killed Envoy is restarted by the
// supervisor; an upgrade drains first; uncapture, then the sidecar goes, leaving nothing.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { applyCaptureWithDns } from "../../src/hosts/mesh-dns.js";
import { probeCapture, removeCapture } from "../../src/hosts/capture.js";
import { probe } from "../../src/hosts/probe.js";
import { ensureSidecar, readSidecar, removeSidecar, sidecarBase } from "../../src/hosts/sidecar.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { deploy, undeploy } from "../../src/hosts/tasks.js";
import type { PackageFiles } from "../../src/hosts/part.js";
import type { CaptureRules, EnvironmentModel } from "../../src/model/index.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import { hostSidecar } from "../../src/runtimes/sidecar/render.js";
import type { VmSidecar } from "../../src/runtimes/sidecar/resource.js";
import { doubleLauncher, envoyBinary, isDouble } from "../support/envoy.js";
import { billingInstance, EXAMPLE_PACKAGE, httpGet, killUnder } from "../support/local-host.js";
import { modelFixture } from "../support/model-fixture.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { netnsSession } from "../support/netns-session.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `netns hosts unavailable: ${support.reason}`;
const PORT = 9100;
const READY_MS = 30_000;

describe("VM sidecar on a netns host (Envoy double or AMPHI_TEST_ENVOY, real ADS server, real iptables)", { skip }, () => {
  let fleet: TestFleet;
  let ads: AdsServer;
  let env: EnvironmentModel;
  let work = "";
  const logs: string[] = [];
  const ctx = (): TaskContext => ({ session: netnsSession(fleet, 0, { group: "fleet" }), env: "prod", now: () => new Date().toISOString(), log: (l) => logs.push(l) });
  const host = () => fleet.hosts[0]!;
  const at = () => ({ hostGroup: "fleet", host: host().name, address: host().address, baseDir: host().baseDir });
  const noPackages: PackageFiles = { file: async () => assert.fail("a binary sidecar needs no package file") };
  const sidecarOf = (source: VmSidecar["source"], e: EnvironmentModel = env): VmSidecar => hostSidecar(e, source, at());
  const app = () => billingInstance(PORT, { host: host().name, hostGroup: "fleet", address: host().address, baseDir: host().baseDir, env: "prod" });
  /** The host's capture rules without mesh-dns (DNS capture is tested in capture.test.ts). */
  const rules = (): CaptureRules => {
    const { dns: _dns, ...r } = hostCapture(env, "fleet", host().name, [app()]);
    assert.deepEqual(r.proxy, { adminPort: 15000, inboundPort: 15006, outboundPort: 15001 }, "the rules name the sidecar they wait for");
    return r;
  };
  /** GET /health from outside the host (the root namespace), as another host's client, on a new connection each
   * time (httpGet): a pooled one opened before capture was installed or removed would not take the path the test is
   * about (NAT applies to new connections). */
  const fromOutside = async (): Promise<string> => {
    const r = await httpGet(PORT, "/health", host().address, 5000);
    return r.error === undefined ? `${r.status}` : `failed: ${r.error}`;
  };
  const envoyPid = () => readFileSync(join(sidecarBase(host().baseDir), "run/envoy.pid"), "utf8").trim();

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but netns hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 1 });
    ads = new AdsServer();
    const port = await ads.listen(`${fleet.rootAddress}:0`);
    const base = modelFixture().environments.find((e) => e.name === "prod")!;
    env = { ...base, mesh: { ...base.mesh, sidecar: { ...base.mesh.sidecar, binary: envoyBinary() }, controlPlane: { host: fleet.rootAddress, port } } };
    ads.setSnapshot({
      env: "prod",
      settings: { domain: env.mesh.domain, outboundPort: env.mesh.outboundPort, inboundPort: env.mesh.inboundPort },
      services: [{ name: "billing", app: "billing", ports: [{ port: PORT, protocol: "http", instances: [{ id: "billing-1", address: host().address, port: PORT, version: "2.3.0", locality: "fleet", passing: true }] }], policy: null }],
      hostApps: { [`fleet/${host().name}`]: ["billing"] },
    });
    work = mkdtempSync(join(tmpdir(), `amphi-vm-sidecar-${process.pid}-`));
    const out = await deploy(ctx(), app(), { packageFile: EXAMPLE_PACKAGE });
    assert.equal(out.result, "changed", out.message);
  });
  after(async () => {
    if (fleet) {
      await removeCapture(ctx()).catch(() => {});
      await removeSidecar(ctx()).catch(() => {});
      await undeploy(ctx(), "billing").catch(() => {});
      killUnder(host().baseDir);
      await fleet.cleanup();
    }
    await ads?.close();
    if (work) rmSync(work, { recursive: true, force: true });
    if (process.env.AMPHI_TEST_VERBOSE) console.log(logs.join("\n"));
  });

  it("refuses capture while no sidecar answers: nothing installed, the app still reachable from outside", async () => {
    await assert.rejects(applyCaptureWithDns(ctx(), rules()), (e: Error) => {
      assert.match(e.message, /capture rules not applied: the sidecar on host0 is not ready \(admin 127\.0\.0\.1:15000\/ready does not answer, nothing accepts on the inbound port 15006, nothing accepts on the outbound port 15001\)/);
      return true;
    });
    assert.equal(await probeCapture(ctx().session, null), "missing");
    assert.equal(await fromOutside(), "200");
  });

  it(`deploys Envoy from mesh.sidecar.binary (${isDouble() ? "the test double" : "AMPHI_TEST_ENVOY"}) as the proxy uid: ready, listeners from the control plane; again: unchanged`, async () => {
    const sc = sidecarOf({ binary: envoyBinary() });
    const out = await ensureSidecar(ctx(), sc, { packages: noPackages, healthTimeoutMs: READY_MS });
    assert.equal(out.result, "changed", out.message);
    assert.match(out.message, /sidecar envoy@host-binary: deployed host-binary-[0-9a-f]{8} .*; ready on 15006\/15001 \(node host~prod~fleet~host0, bootstrap [0-9a-f]{16}\)/);
    const pid = envoyPid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    assert.match(status, /^Uid:\s+1337\s/m, "runs as mesh.proxyUid");
    const seen = await readSidecar(ctx());
    assert.deepEqual(seen, { sidecar: sc, ready: true });
    assert.ok(ads.status().nodes.some((n) => n.id === "host~prod~fleet~host0" && n.streams > 0), "connected to the ADS server with the host node id");
    const again = await ensureSidecar(ctx(), sc, { packages: noPackages, healthTimeoutMs: READY_MS });
    assert.equal(again.result, "unchanged", again.message);
  });

  it("the host's probe carries the sidecar's own: reading the sidecar then only asks whether it is ready", async () => {
    const base = ctx();
    const commands: string[] = [];
    const session = { ...base.session, exec: (argv: string[], o?: Parameters<typeof base.session.exec>[1]) => (commands.push(argv.slice(0, 3).join(" ").slice(0, 60)), base.session.exec(argv, o)) };
    const counted: TaskContext = { ...base, session };
    const probed = await probe(counted);
    assert.equal(probed.sidecarDir, true);
    assert.equal(commands.length, 1, commands.join("\n"));
    const seen = await readSidecar(counted, probed);
    assert.deepEqual(seen, await readSidecar(ctx()), "the same as the sidecar's own probe reads");
    assert.equal(commands.length, 2, `one more command, the readiness check:\n${commands.join("\n")}`);
    assert.match(commands[1]!, /^sh -c # sidecar-check\.sh/);
    assert.equal(seen?.ready, true);
  });

  it("installs capture once the sidecar answers; an outside client reaches the app through the inbound listener", async () => {
    const out = await applyCaptureWithDns(ctx(), rules());
    assert.equal(out.result, "changed", out.message);
    assert.equal(await fromOutside(), "200");
  });

  it("a killed Envoy is restarted by the supervisor and answers again; while it is down the host's sidecar reads as down", async () => {
    const before = envoyPid();
    process.kill(Number(before), "SIGKILL");
    const down = await readSidecar(ctx());
    assert.equal(down?.ready, false, "no proxy listens right after the kill");
    const deadline = Date.now() + READY_MS;
    let seen = await readSidecar(ctx());
    while (!(seen?.ready && envoyPid() !== before) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      seen = await readSidecar(ctx());
    }
    assert.equal(seen?.ready, true, "ready again");
    assert.notEqual(envoyPid(), before, "a new process");
    assert.equal(await fromOutside(), "200");
  });

  it("a change Envoy must restart for (here its drain time) drains the listeners first, then restarts it", async () => {
    const before = envoyPid();
    const sc = { ...sidecarOf({ binary: envoyBinary() }), drainSeconds: 1 };
    const out = await ensureSidecar(ctx(), sc, { packages: noPackages, healthTimeoutMs: READY_MS });
    assert.equal(out.result, "changed", out.message);
    assert.ok(logs.some((l) => /sidecar: drain_listeners on host0: draining for 5s/.test(l)), logs.join("\n"));
    assert.notEqual(envoyPid(), before);
    assert.equal((await readSidecar(ctx()))?.ready, true);
  });

  it("from a package (sha256-pinned archive, start = bin/envoy inside it)", async () => {
    const dir = join(work, "pkg");
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "bin/envoy"), doubleLauncher());
    chmodSync(join(dir, "bin/envoy"), 0o755);
    const file = join(work, "envoy-double.tar.gz");
    execFileSync("tar", ["-czf", file, "-C", dir, "bin"]);
    const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
    const sc = sidecarOf({ package: { path: "packages/envoy-double.tar.gz" }, version: "1.0.0-double", sha256, exe: "bin/envoy" });
    const packages: PackageFiles = { file: async (i) => (assert.equal(i.sha256, sha256), file) };
    const out = await ensureSidecar(ctx(), sc, { packages, healthTimeoutMs: READY_MS });
    assert.equal(out.result, "changed", out.message);
    assert.match(out.message, /sidecar envoy@1\.0\.0-double: (deployed|switched)/);
    assert.deepEqual(await readSidecar(ctx()), { sidecar: sc, ready: true });
    assert.equal(await fromOutside(), "200");
  });

  it("uncapture, then the sidecar goes: no Envoy, no files, and the app reachable directly", async () => {
    assert.equal((await removeCapture(ctx())).result, "changed");
    const out = await removeSidecar(ctx());
    assert.equal(out.result, "changed", out.message);
    assert.equal(existsSync(sidecarBase(host().baseDir)), false);
    assert.equal(await readSidecar(ctx()), null);
    assert.equal((await removeSidecar(ctx())).result, "unchanged");
    assert.equal(await fromOutside(), "200");
  });
});

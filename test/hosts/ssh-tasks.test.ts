// The host tasks over real SSH: SshConnector to sshd hosts in network namespaces (each with its own
// network and pid namespace, base dirs on the shared file system), logged in as the unprivileged test
// user. Skipped where namespaces are unavailable, except in CI.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { readHostState } from "../../src/hosts/state-file.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { deploy, probe, TaskError, undeploy } from "../../src/hosts/tasks.js";
import type { HostRef } from "../../src/ports/hosts.js";
import { billingInstance, buildPackage, EXAMPLE_PACKAGE, httpGet, killUnder, processesUnder, treeListing } from "../support/local-host.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";

const support = fleetSupported();
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const PORT = 9100; // every host has its own network namespace
const fast = { healthTimeoutMs: 2000, stopGraceMs: 2000 };

describe("host tasks over SSH (2 netns hosts, unprivileged login)", { skip }, () => {
  let fleet: TestFleet;
  let connector: SshConnector;
  let dir: string;
  let v2: { path: string; sha256: string };
  const logs: string[] = [];
  const timings: Record<string, number> = {};

  const ref = (i: number): HostRef => {
    const h = fleet.hosts[i]!;
    return {
      group: "fleet",
      host: h.name,
      address: h.address,
      transport: "ssh",
      baseDir: h.baseDir,
      ssh: { user: h.user, port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null },
    };
  };
  const ctx = async (i: number): Promise<TaskContext> => ({
    session: await connector.open(ref(i)),
    env: "staging",
    now: () => new Date().toISOString(),
    log: (line) => logs.push(`${fleet.hosts[i]!.name}: ${line}`),
  });
  const inst = (i: number, over: Parameters<typeof billingInstance>[1] = {}) =>
    billingInstance(PORT, { host: fleet.hosts[i]!.name, hostGroup: "fleet", address: fleet.hosts[i]!.address, baseDir: fleet.hosts[i]!.baseDir, ...over });

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 2 });
    connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
    dir = mkdtempSync(join(tmpdir(), `amphi-ssh-tasks-${process.pid}-`));
    v2 = buildPackage(dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
  });
  after(async () => {
    if (fleet) {
      for (const i of [0, 1]) await undeploy(await ctx(i), "billing").catch(() => {});
      await connector.closeAll();
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    rmSync(dir, { recursive: true, force: true });
    if (Object.keys(timings).length) console.log(`# ssh timings (ms): ${JSON.stringify(timings)}`);
  });

  it("deploys to both hosts at once, then reports unchanged", async () => {
    let t0 = performance.now();
    const first = await Promise.all([0, 1].map(async (i) => deploy(await ctx(i), inst(i), { packageFile: EXAMPLE_PACKAGE })));
    timings.deployBoth = Math.round(performance.now() - t0);
    assert.deepEqual(first.map((o) => o.result), ["changed", "changed"]);
    for (const h of fleet.hosts) assert.deepEqual(await httpGet(PORT, "/health", h.address), { status: 200, body: "ok\n" });
    t0 = performance.now();
    const again = await deploy(await ctx(0), inst(0), { packageFile: EXAMPLE_PACKAGE });
    timings.unchangedDeploy = Math.round(performance.now() - t0);
    assert.equal(again.result, "unchanged");
  });

  it("deploys version 2 on host0, and rolls back a broken version 2.5.0", async () => {
    const out = await deploy(await ctx(0), inst(0, { version: "2.4.0", sha256: v2.sha256, environment: { APP_VERSION: "2.4.0" } }), { packageFile: v2.path });
    assert.equal(out.result, "changed");
    const bad = buildPackage(dir, "billing-2.5.0", { VERSION: "2.5.0\n" });
    const broken = inst(0, { version: "2.5.0", sha256: bad.sha256, environment: { HEALTHY: "false" } });
    await assert.rejects(deploy(await ctx(0), broken, { packageFile: bad.path, ...fast }), (e: unknown) => {
      assert.ok(e instanceof TaskError);
      assert.equal(e.rolledBack, true);
      assert.match(e.message, new RegExp(`^host0: billing@2\\.5\\.0: health check http://127\\.0\\.0\\.1:${PORT}/health failed after 2s \\(503\\); rolled back to 2\\.4\\.0-${v2.sha256.slice(0, 8)}$`));
      return true;
    });
    const h0 = fleet.hosts[0]!;
    assert.equal(JSON.parse((await httpGet(PORT, "/", h0.address)).body).version, "2.4.0");
    assert.equal(JSON.parse((await httpGet(PORT, "/", fleet.hosts[1]!.address)).body).version, "2.3.0", "host1 untouched");
  });

  it("refuses a package whose sha256 does not match, before anything changes", async () => {
    const h1 = fleet.hosts[1]!;
    const before = treeListing(h1.baseDir);
    await assert.rejects(deploy(await ctx(1), inst(1, { version: "9.9.9", sha256: "a".repeat(64) }), { packageFile: EXAMPLE_PACKAGE }), /^TaskError: host1: billing@9\.9\.9: sha256 mismatch for packages\/a{64} \(expected a{12}…, got 5d3785d58a31…\)$/);
    assert.deepEqual(treeListing(h1.baseDir), before);
  });

  it("probes in one command: running and healthy", async () => {
    const p = await probe(await ctx(1));
    assert.deepEqual([p.processes, p.health, p.state.host], [{ billing: "running" }, { billing: "ok" }, "host1"]);
  });

  it("undeploys: no process, no app directory, no record on either host", async () => {
    for (const i of [0, 1]) {
      const h = fleet.hosts[i]!;
      assert.equal((await undeploy(await ctx(i), "billing", fast)).result, "changed");
      assert.deepEqual(processesUnder(h.baseDir), []);
      const ps = await fleet.execOnHost(i, ["ps", "-eo", "args"]);
      assert.doesNotMatch(ps.stdout, /amphi-supervise|server\.mjs/);
      assert.equal(existsSync(join(h.baseDir, "apps/billing")), false);
      assert.deepEqual((await readHostState((await ctx(i)).session, "staging", "now")).apps, {});
      assert.equal(readFileSync(join(h.baseDir, "state.json"), "utf8").includes("billing"), false);
    }
  });
});

// amphi apply through the CLI against three real sshd hosts in network namespaces: deploy with capture
// rules, a second version, a broken version rolled back (and the group's rollout stopped), a host down
// during a deploy (partial results), a host key mismatch refused, and undeploy leaving nothing behind.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { billingSpec, fleetEnvironment } from "../support/fleet-config.js";
import { EXAMPLE_PACKAGE, EXAMPLE_SHA, buildPackage, killUnder } from "../support/local-host.js";
import { envoyBinary } from "../support/envoy.js";
import { AdsServer } from "../../src/adapters/xds/index.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const PORT = 9100;

describe("amphi apply over ssh to three netns hosts", { skip }, () => {
  let fleet: TestFleet;
  let repo = "";
  let ads: AdsServer;
  let adsPort = 0;

  const app = (version: string, pkg: { path: string; sha256: string }, env: Record<string, string> = {}): string =>
    billingSpec({ port: PORT, version, ...pkg, env: { APP_VERSION: version, ...env } });
  // capture on: every host gets the VM sidecar (the Envoy double, or AMPHI_TEST_ENVOY) fed by a real ADS server
  const environment = (knownHostsFile: string, placed = true): string =>
    fleetEnvironment(fleet, { knownHostsFile, placed, capture: true, mesh: `controlPlane: { address: "${fleet.rootAddress}:${adsPort}" }, `, sidecarBinary: envoyBinary() });

  const write = (file: string, text: string): void => {
    mkdirSync(join(repo, file, ".."), { recursive: true });
    writeFileSync(join(repo, file), text);
  };
  const apply = () => amphi(["apply", "--env", "fleet", "--repo", repo, "--yes", "--health-timeout", "5"], repo);
  const version = async (i: number): Promise<string> => {
    const r = await fleet.execOnHost(i, ["curl", "-s", "-m", "2", `http://127.0.0.1:${PORT}/`]);
    return r.code === 0 ? (JSON.parse(r.stdout) as { version: string }).version : `down (${r.code})`;
  };

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 3 });
    ads = new AdsServer();
    adsPort = await ads.listen(`${fleet.rootAddress}:0`);
    ads.setSnapshot({ env: "fleet", settings: { domain: "mesh", outboundPort: 15001, inboundPort: 15006 }, services: [] });
    repo = mkdtempSync(join(tmpdir(), `amphi-apply-ssh-${process.pid}-`));
    mkdirSync(join(repo, "packages"), { recursive: true });
    copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing-2.3.0.tar.gz"));
    write("apps/billing/spec.yaml", app("2.3.0", { path: "packages/billing-2.3.0.tar.gz", sha256: EXAMPLE_SHA }));
    write("environments/fleet.yaml", environment(fleet.knownHostsPath));
  });

  after(async () => {
    if (!fleet) return;
    for (const h of fleet.hosts) killUnder(h.baseDir);
    await fleet.cleanup();
    await ads?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("deploys to every host with capture rules, then plans no changes", async () => {
    const r = await apply();
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/deploy billing\s+succeeded \(changed\)/g) ?? []).length, 3);
    assert.equal((r.stderr.match(/sidecar\s+succeeded \(changed\)/g) ?? []).length, 3, r.stderr);
    assert.equal((r.stderr.match(/capture\s+succeeded \(changed\)/g) ?? []).length, 3);
    for (const i of [0, 1, 2]) assert.equal(await version(i), "2.3.0");
    const rules = await fleet.execOnHost(0, ["iptables-save", "-t", "nat"]);
    assert.match(rules.stdout, /-A AMPHI_PREROUTING -p tcp -m tcp --dport 9100/);
    const plan = await amphi(["plan", "--env", "fleet", "--repo", repo], repo);
    assert.equal(plan.code, 0, plan.stdout);
  });

  it("a second version replaces the first on every host", async () => {
    const v2 = buildPackage(join(repo, "packages"), "billing-2.4.0", { VERSION: "2.4.0\n" });
    write("apps/billing/spec.yaml", app("2.4.0", { path: "packages/billing-2.4.0.tar.gz", sha256: v2.sha256 }));
    const plan = await amphi(["plan", "--env", "fleet", "--repo", repo], repo);
    assert.equal(plan.code, 2);
    assert.match(plan.stdout, /fleet\/host0\s+billing\s+update\s+billing\s+version 2\.3\.0→2\.4\.0/);
    const r = await apply();
    assert.equal(r.code, 0, r.stderr);
    for (const i of [0, 1, 2]) assert.equal(await version(i), "2.4.0");
  });

  it("a broken version fails its health gate, is rolled back, and stops the group's rollout", async () => {
    const v3 = buildPackage(join(repo, "packages"), "billing-2.5.0", { VERSION: "2.5.0\n" });
    write("apps/billing/spec.yaml", app("2.5.0", { path: "packages/billing-2.5.0.tar.gz", sha256: v3.sha256 }, { HEALTHY: "false" }));
    const r = await apply();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /host0\s+deploy billing\s+failed.*health.*rolled back/);
    assert.match(r.stderr, /host1\s+deploy billing\s+cancelled.*rollout of fleet stopped after fleet\/host0 failed deploy billing/);
    for (const i of [0, 1, 2]) assert.equal(await version(i), "2.4.0", `host${i} still serves the previous release`);
  });

  it("an unreachable host is unknown in the plan, never a delete", async () => {
    await fleet.stopHost(1);
    try {
      const plan = await amphi(["plan", "--env", "fleet", "--repo", repo], repo);
      assert.equal(plan.code, 3, "a plan that could not see host1 is not a success");
      assert.match(plan.stdout, /unknown\s+vm\s+fleet\/host1\s+billing\s+-\s+vm\/fleet\/host1\/billing\s+host unreachable: host1: /);
      assert.doesNotMatch(plan.stdout, / {2}delete {2}/);
      assert.match(plan.stdout, /0 to delete/);
    } finally {
      await fleet.startHost(1);
    }
  });

  it("a host that goes down during a deploy fails only its own task; the run is failed with partial results", async () => {
    const v4 = buildPackage(join(repo, "packages"), "billing-2.6.0", { VERSION: "2.6.0\n" });
    write("apps/billing/spec.yaml", app("2.6.0", { path: "packages/billing-2.6.0.tar.gz", sha256: v4.sha256 }));
    const started = await amphi(["apply", "--env", "fleet", "--repo", repo, "--yes", "--health-timeout", "5", "--async"], repo);
    assert.equal(started.code, 0, started.stderr);
    const runId = started.stdout.trim();
    const stateDir = join(repo, ".amphi");
    // host2 goes down once the first deploy runs (maxUnavailable 1: host2's turn comes later).
    for (let i = 0; i < 300; i++) {
      const show = await amphi(["tasks", "show", runId, "--state-dir", stateDir, "--format", "json"], repo);
      const run = show.code === 0 ? (JSON.parse(show.stdout) as { tasks: { state: string }[] }) : { tasks: [] };
      if (run.tasks.some((t) => t.state !== "queued")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await fleet.stopHost(2);
    try {
      const waited = await amphi(["tasks", "wait", runId, "--state-dir", stateDir, "--timeout", "120"], repo);
      assert.equal(waited.code, 1, waited.stdout + waited.stderr);
      const show = await amphi(["tasks", "show", runId, "--state-dir", stateDir, "--format", "json"], repo);
      const run = JSON.parse(show.stdout) as { state: string; tasks: { target: string; kind: string; state: string; message: string }[] };
      assert.equal(run.state, "failed");
      const deploys = Object.fromEntries(run.tasks.filter((t) => t.kind === "deploy").map((t) => [t.target, t]));
      assert.equal(deploys["fleet/host0"]!.state, "succeeded");
      assert.equal(deploys["fleet/host1"]!.state, "succeeded");
      assert.equal(deploys["fleet/host2"]!.state, "failed");
      assert.match(deploys["fleet/host2"]!.message, /^host2: /, "the message names the host, then the cause");
      assert.equal(await version(0), "2.6.0");
      assert.equal(await version(1), "2.6.0");
    } finally {
      await fleet.startHost(2);
    }
    const r = await apply();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await version(2), "2.6.0", "the host catches up once it is back");
  });

  it("a host key that does not match known_hosts is refused, naming the host", async () => {
    const lines = readFileSync(fleet.knownHostsPath, "utf8").trim().split("\n");
    const keyOf = (line: string) => line.split(" ").slice(1).join(" ");
    const forged = lines.map((l, i) => (i === 0 ? `${l.split(" ")[0]} ${keyOf(lines[1]!)}` : l)).join("\n") + "\n";
    const file = join(repo, "known_hosts.forged");
    writeFileSync(file, forged);
    write("environments/fleet.yaml", environment(file));
    try {
      const plan = await amphi(["plan", "--env", "fleet", "--repo", repo], repo);
      assert.equal(plan.code, 3);
      assert.match(plan.stdout, /unknown\s+vm\s+fleet\/host0\s+billing\s+-\s+vm\/fleet\/host0\/billing\s+host unreachable: host0: host key for .* does not match/);
    } finally {
      write("environments/fleet.yaml", environment(fleet.knownHostsPath));
    }
  });

  it("removing the placement undeploys: no process, no files, no iptables rules", async () => {
    write("environments/fleet.yaml", environment(fleet.knownHostsPath, false));
    const r = await apply();
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/undeploy billing\s+succeeded \(changed\)/g) ?? []).length, 3);
    for (const [i, h] of fleet.hosts.entries()) {
      assert.equal(await version(i), "down (7)");
      const rules = await fleet.execOnHost(i, ["sh", "-c", "iptables-save | grep -c AMPHI || true"]);
      assert.equal(rules.stdout.trim(), "0", `${h.name}: no AMPHI rules left`);
      const left = await fleet.execOnHost(i, ["sh", "-c", `ls ${h.baseDir}/apps; pgrep -f "server[.]mjs" || true`]);
      assert.equal(left.stdout.trim(), "", `${h.name}: no app dir, no process`);
      const envoy = await fleet.execOnHost(i, ["sh", "-c", `ls -d ${h.baseDir}/sidecar 2>/dev/null; pgrep -u 1337 || true`]);
      assert.equal(envoy.stdout.trim(), "", `${h.name}: no sidecar dir, no Envoy`);
    }
  });
});

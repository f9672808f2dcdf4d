// The registry end to end through the CLI, on two netns sshd hosts and the Consul HTTP API double (on the
// fleet's root address, so the hosts' health reporters reach it): apply registers every instance and its
// check passes within seconds; a stopped app's check goes critical and `amphi drift` shows it; removing
// the placement deregisters. (With CONSUL_HTTP_ADDR set, test/consul runs the adapter suites against a real
// Consul; this file needs the double's address on the fleet network.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { billingSpec, fleetEnvironment } from "../support/fleet-config.js";
import { EXAMPLE_PACKAGE, EXAMPLE_SHA, killUnder } from "../support/local-host.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { stop } from "../../src/hosts/lifecycle.js";

const support = fleetSupported();
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const TOKEN = "amphi-registry-test-token";
const PORT = 9100;

describe("registration, TTL health and drift through amphi apply", { skip }, () => {
  let fleet: TestFleet;
  let consul: ConsulDouble;
  let repo = "";
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, AMPHI_CONSUL_TOKEN: TOKEN });

  const environment = (placed: boolean): string =>
    fleetEnvironment(fleet, {
      user: "amphitest", capture: false, maxUnavailable: 2, placed,
      extra: `  consul: { address: "${consul.url}", tokenEnv: AMPHI_CONSUL_TOKEN, checkTTL: 3s, deregisterCriticalAfter: 1m }\n`,
    });
  const checks = () => consul.state().checks.filter((c) => c.ServiceID.startsWith("billing-")).map((c) => `${c.ServiceID}=${c.Status}`).sort();
  async function until(what: string, ok: () => boolean, ms = 8000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}; checks: ${checks().join(", ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 2 });
    consul = await startConsulDouble({ host: fleet.rootAddress, token: TOKEN });
    repo = mkdtempSync(join(tmpdir(), `amphi-registry-${process.pid}-`));
    mkdirSync(join(repo, "packages"));
    mkdirSync(join(repo, "apps/billing"), { recursive: true });
    mkdirSync(join(repo, "environments"));
    copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing.tar.gz"));
    writeFileSync(join(repo, "apps/billing/spec.yaml"), billingSpec({ port: PORT, path: "packages/billing.tar.gz", sha256: EXAMPLE_SHA }));
    writeFileSync(join(repo, "environments/fleet.yaml"), environment(true));
  });

  after(async () => {
    if (fleet) {
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    await consul?.close();
    if (repo) rmSync(repo, { recursive: true, force: true });
  });

  it("apply registers each instance and its TTL check passes within a few seconds", async () => {
    const r = await amphi(["apply", "--env", "fleet", "--repo", repo, "--yes"], repo, env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/register billing\s+succeeded \(changed\)/g) ?? []).length, 2);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(TOKEN), "the token never reaches output");
    const services = consul.state().services.filter((s) => s.Tags.includes("amphi")).map((s) => `${s.ID} ${s.Address}:${s.Port} ${s.Tags.join(",")}`).sort();
    assert.deepEqual(services, fleet.hosts.map((h) => `billing-${h.name}-${PORT} ${h.address}:${PORT} amphi,env:fleet,app:billing,version:2.3.0`).sort());
    await until("both checks passing", () => checks().every((c) => c.endsWith("=passing")) && checks().length === 2);
    const plan = await amphi(["plan", "--env", "fleet", "--repo", repo], repo, env());
    assert.equal(plan.code, 0, plan.stdout);
  });

  it("a stopped app's check goes critical, and drift shows it", async () => {
    const connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
    try {
      const h = fleet.hosts[1]!;
      const session = await connector.open({ group: "fleet", host: h.name, address: h.address, transport: "ssh", ssh: { user: "amphitest", port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null }, baseDir: h.baseDir });
      await stop({ session, env: "fleet", now: () => new Date().toISOString(), log: () => {} }, "billing");
    } finally {
      await connector.closeAll();
    }
    const id = `billing-${fleet.hosts[1]!.name}-${PORT}`;
    await until(`${id} critical`, () => checks().includes(`${id}=critical`));
    const drift = await amphi(["drift", "--env", "fleet", "--repo", repo, "--format", "json"], repo, env());
    assert.equal(drift.code, 2, drift.stderr);
    const report = JSON.parse(drift.stdout) as { rows: { app: string | null; target: string; health: string; items: { kind: string; detail: string }[] }[] };
    const row = report.rows.find((x) => x.app === "billing" && x.target === `fleet/${fleet.hosts[1]!.name}`)!;
    assert.equal(row.health, "degraded");
    assert.ok(row.items.some((i) => /critical/.test(i.detail)), JSON.stringify(row.items));
    const html = await amphi(["drift", "--env", "fleet", "--repo", repo, "--format", "html"], repo, env());
    assert.match(html.stdout, /critical/);
    assert.doesNotMatch(html.stdout, /<script/);
  });

  it("removing the placement deregisters every instance", async () => {
    writeFileSync(join(repo, "environments/fleet.yaml"), environment(false));
    const r = await amphi(["apply", "--env", "fleet", "--repo", repo, "--yes"], repo, env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/deregister billing\s+succeeded/g) ?? []).length, 2, r.stderr);
    assert.deepEqual(consul.state().services.filter((s) => s.Tags.includes("amphi")), []);
  });
});

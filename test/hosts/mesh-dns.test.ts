// mesh-dns on a real host (src/hosts/mesh-dns.ts): the capture task installs the bundled mesh-dns on a netns
// test host, runs it as the proxy uid, waits until it answers, then applies the rules. Around the host: the
// Consul double (with ACLs: mesh-dns reads the catalog with the token from a mode-600 file) and a dnsmasq as
// the upstream resolver, both on the fleet's root address. From the host, as the unprivileged test user,
// plain `dig` (port 53 of the machine's resolv.conf, redirected by capture) reaches mesh-dns.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { findExecutable } from "../../src/adapters/process/spawn.js";
import { probeCapture } from "../../src/hosts/capture.js";
import { applyCaptureWithDns, chooseUpstreams, meshBase, removeCaptureWithDns } from "../../src/hosts/mesh-dns.js";
import { TaskError } from "../../src/hosts/errors.js";
import type { TaskContext } from "../../src/hosts/task.js";
import type { CaptureRules, EnvironmentModel } from "../../src/model/index.js";
import type { HostSession } from "../../src/ports/hosts.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { killUnder } from "../support/local-host.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { fleetSupported, startFleet, TEST_USER, type TestFleet } from "../support/netns-hosts.js";
import { netnsSession } from "../support/netns-session.js";
import { batchAddon } from "../dns/tools.js";
import { spawnSync } from "../support/spawn.js";

const support = fleetSupported();
const haveTools = ["dig", "dnsmasq"].every((b) => findExecutable(b, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }) !== null);
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip =
  process.env.CI === "true" ? false
  : !support.ok ? `netns test hosts unavailable: ${support.reason}`
  : !haveTools ? "dig or dnsmasq not installed"
  : false;

const TOKEN = "5f0c2a6e-3b1d-4c8e-9a7f-1e2d3c4b5a69";
const SERVICE_IP = "10.255.0.1";
const UPSTREAM_ANSWER = "192.0.2.7";

describe("chooseUpstreams", () => {
  const rules = (upstreams: string[]) => ({ ...hostCapture(fixtureEnvironment(), "g", "h", []).dns!, upstreams });
  it("takes mesh.dnsUpstreams as they are", () => {
    assert.deepEqual(chooseUpstreams("h", rules(["10.0.0.2"]), ["10.9.9.9"], []), ["10.0.0.2"]);
  });
  it("reads resolv.conf without loopback stubs, and systemd-resolved's upstreams behind 127.0.0.53", () => {
    assert.deepEqual(chooseUpstreams("h", rules([]), ["127.0.0.1", "10.9.9.9"], []), ["10.9.9.9"]);
    assert.deepEqual(chooseUpstreams("h", rules([]), ["127.0.0.53"], ["10.1.1.1", "10.1.1.2"]), ["10.1.1.1", "10.1.1.2"]);
  });
  it("fails naming mesh.dnsUpstreams when only stubs are left", () => {
    assert.throws(() => chooseUpstreams("h", rules([]), ["127.0.0.53"], []), (e: unknown) => e instanceof TaskError && /set mesh\.dnsUpstreams/.test(e.message));
  });
});

describe("mesh-dns installed by the capture task on a netns host", { skip, timeout: 180_000 }, () => {
  let fleet: TestFleet;
  let consul: ConsulDouble;
  let dnsmasq: ChildProcess | undefined;
  let root: HostSession;
  let asUser: HostSession;
  let rules: CaptureRules;
  const logs: string[] = [];
  const host = () => fleet.hosts[0]!;
  const ctx = (): TaskContext => ({ session: root, env: "prod", now: () => new Date().toISOString(), log: (l) => logs.push(l) });
  const apply = () => applyCaptureWithDns(ctx(), rules, () => TOKEN);
  const dig = async (name: string): Promise<string> => {
    const r = await asUser.exec(["dig", "+short", "+time=2", "+tries=1", name, "A"]);
    return r.stdout.trim();
  };
  const register = async (name: string): Promise<void> => {
    const res = await fetch(`${consul.url}/v1/agent/service/register`, {
      method: "PUT",
      headers: { "X-Consul-Token": TOKEN },
      body: JSON.stringify({ ID: `${name}-1`, Name: name, Address: host().address, Port: 9100 }),
    });
    assert.equal(res.status, 200);
  };
  let addonBuilt = false;
  const meshPid = (): string => readFileSync(`${meshBase(host().baseDir)}/run/mesh.dns.pid`, "utf8").trim();

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but netns test hosts are unavailable: ${support.reason}`);
    if (!haveTools) assert.fail("CI=true but dig or dnsmasq is not installed");
    addonBuilt = batchAddon().skip === false; // hosts get it next to mesh-dns.mjs (they are this machine)
    fleet = await startFleet({ count: 1 });
    root = netnsSession(fleet, 0);
    const pw = spawnSync("getent", ["passwd", TEST_USER], { encoding: "utf8" }).stdout.split(":");
    asUser = netnsSession(fleet, 0, { user: { uid: Number(pw[2]), gid: Number(pw[3]) } });
    // A default route, as a real VM has: nat OUTPUT runs after routing, so the resolver named in
    // /etc/resolv.conf must be routable for the redirect to see the query.
    const route = await root.exec(["ip", "route", "add", "default", "via", fleet.controllerAddress]);
    assert.equal(route.code, 0, route.stderr);

    consul = await startConsulDouble({ host: fleet.rootAddress, token: TOKEN });
    await register("billing");
    dnsmasq = spawn(
      "dnsmasq",
      ["--no-daemon", `--listen-address=${fleet.rootAddress}`, "--port=53", "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=", `--address=/example.test/${UPSTREAM_ANSWER}`],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } },
    );
    let err = "";
    dnsmasq.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    for (let i = 0; ; i++) {
      const r = spawnSync("dig", ["+short", "+time=1", "+tries=1", `@${fleet.rootAddress}`, "www.example.test"], { encoding: "utf8" });
      if (r.stdout.trim() === UPSTREAM_ANSWER) break;
      if (i > 50 || dnsmasq.exitCode !== null) assert.fail(`dnsmasq did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const base = fixtureEnvironment();
    const env: EnvironmentModel = {
      ...base,
      mesh: { ...base.mesh, dnsUpstreams: [fleet.rootAddress] },
      consul: { ...base.consul, enabled: true, address: consul.url, tokenEnv: "AMPHI_TEST_CONSUL_TOKEN" },
    };
    rules = hostCapture(env, "test", host().name, []);
    assert.equal(rules.dns?.port, 15053);
    assert.equal(rules.dns?.user, 1337);
    assert.equal(rules.dns?.serviceIP, SERVICE_IP);
  });

  after(async () => {
    if (fleet) {
      try {
        await removeCaptureWithDns(ctx());
      } catch {
        // best effort; killUnder below
      }
      killUnder(host().baseDir);
    }
    dnsmasq?.kill("SIGTERM");
    await consul?.close();
    await fleet?.cleanup();
  });

  it("installs mesh-dns as the proxy uid before the rules, and resolves mesh and upstream names through the redirect", async () => {
    const first = await apply();
    assert.equal(first.result, "changed", first.message);
    assert.match(first.message, addonBuilt ? /mesh-dns program uploaded, batched UDP addon uploaded, settings written, started as uid 1337/ : /mesh-dns program uploaded, settings written, started as uid 1337/);
    assert.equal(await probeCapture(root, rules), "present");
    // Before the rules went in, mesh-dns answered already (the task checks it); now port 53 reaches it.
    assert.equal(await dig("billing"), SERVICE_IP);
    assert.equal(await dig("billing.mesh"), SERVICE_IP);
    assert.equal(await dig("www.example.test"), UPSTREAM_ANSWER);
    // The process: the proxy uid, no token on its command line; the token file is 600 and the proxy uid's.
    const pid = meshPid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    assert.match(status, /^Uid:\s+1337\s+1337\s+1337\s+1337$/m);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    assert.match(cmdline, /mesh-dns\.mjs .*dns\.json/);
    // The batched UDP addon went next to the program and is loaded (no "not batched" line in its log).
    if (addonBuilt) assert.match(readFileSync(`/proc/${pid}/maps`, "utf8"), new RegExp(`${meshBase(host().baseDir)}/udp-batch\\.node`));
    if (addonBuilt) assert.doesNotMatch(readFileSync(`${meshBase(host().baseDir)}/logs/mesh.dns.log`, "utf8"), /not batched/);
    assert.doesNotMatch(cmdline, new RegExp(TOKEN));
    const tokenFile = statSync(`${meshBase(host().baseDir)}/token`);
    assert.equal(tokenFile.mode & 0o777, 0o600);
    assert.equal(tokenFile.uid, 1337);
    assert.doesNotMatch(readFileSync(`${meshBase(host().baseDir)}/dns.json`, "utf8"), new RegExp(TOKEN));
    assert.ok(!logs.some((l) => l.includes(TOKEN)), "the token is never logged");
  });

  it("sees a new registration within about a second", async () => {
    await register("ledger");
    const t0 = Date.now();
    let got = "";
    while (Date.now() - t0 < 3000) {
      got = await dig("ledger");
      if (got === SERVICE_IP) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, SERVICE_IP);
    assert.ok(Date.now() - t0 < 1500, `visible after ${Date.now() - t0} ms`);
  });

  it("changes nothing the second time", async () => {
    const pid = meshPid();
    const second = await apply();
    assert.equal(second.result, "unchanged", second.message);
    assert.equal(meshPid(), pid);
  });

  it("removes the rules, then mesh-dns and <baseDir>/mesh", async () => {
    const pid = meshPid();
    const r = await removeCaptureWithDns(ctx());
    assert.equal(r.result, "changed", r.message);
    assert.match(r.message, /mesh-dns removed/);
    assert.equal(await probeCapture(root, null), "missing");
    assert.ok(!existsSync(`/proc/${pid}`), "mesh-dns is stopped");
    assert.ok(!existsSync(meshBase(host().baseDir)));
    const ps = spawnSync("ps", ["-eo", "uid,args"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(ps, new RegExp(`${host().baseDir}/mesh/mesh-dns\\.mjs`));
    const again = await removeCaptureWithDns(ctx());
    assert.equal(again.result, "unchanged", again.message);
  });
});

// The health reporter for real: a netns sshd host (unprivileged login), the Consul double listening on the
// fleet's root address so the host reaches it, the example package deployed with a reporter → its TTL
// check passes within seconds; the app killed → the check goes critical; undeploy → no reporter process or
// file is left. The token never shows in a process list. Skipped where namespaces are unavailable, except
// in CI.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { ConsulClient, register } from "../../src/adapters/consul/index.js";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { checkIdOf, reporterConfigFor, reporterInterval } from "../../src/hosts/reporter.js";
import { hostCapture } from "../../src/runtimes/capture/render.js";
import { scriptText } from "../../src/hosts/scripts.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { deploy, undeploy } from "../../src/hosts/tasks.js";
import type { HostRef } from "../../src/ports/hosts.js";
import { render } from "../../src/render/index.js";
import { eventually, registrationFixture } from "../consul/helpers.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { billingInstance, EXAMPLE_PACKAGE, killUnder } from "../support/local-host.js";
import { modelFixture } from "../support/model-fixture.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { spawnSync } from "../support/spawn.js";

const support = fleetSupported();
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;
const PORT = 9100;
const TOKEN = "0d9f6a4e-2b1c-4e8f-a7d3-reporter-token";

describe("pure parts of the health reporter", () => {
  it("names the checks as render does, and reports at a third of the TTL", () => {
    const desired = render(modelFixture(), "prod");
    for (const r of desired.resources) if (r.runtime === "consul") assert.equal(checkIdOf(r.registration.id), r.registration.check.checkId);
    assert.deepEqual(["15s", "1m", "2s", "500ms"].map(reporterInterval), [5, 20, 1, 1]);
  });

  it("takes the token from consul.tokenEnv and says which variable is missing", () => {
    const env = modelFixture().environments[0]!;
    const withToken = { ...env, consul: { ...env.consul, tokenEnv: "AMPHI_TEST_TOKEN" } };
    assert.deepEqual(reporterConfigFor(withToken, { AMPHI_TEST_TOKEN: "t" }), { address: env.consul.address, token: "t", intervalSeconds: 5 });
    assert.throws(() => reporterConfigFor(withToken, {}), /AMPHI_TEST_TOKEN \(consul\.tokenEnv\) is not set/);
  });

  it("checks at the instance's address only with capture and a VM sidecar; else over loopback", () => {
    const env = modelFixture().environments[0]!;
    const mesh = (capture: boolean, sidecar: boolean) => ({
      ...env,
      mesh: { ...env.mesh, capture, controlPlane: sidecar ? { host: "10.0.0.1", port: 18000 } : null, sidecar: { ...env.mesh.sidecar, binary: sidecar ? "/usr/bin/envoy" : null, package: null } },
    });
    assert.equal(reporterConfigFor(mesh(true, true)).healthAtAddress, true);
    for (const [capture, sidecar] of [[true, false], [false, true], [false, false]] as const) {
      assert.equal(reporterConfigFor(mesh(capture, sidecar)).healthAtAddress, undefined, `capture ${capture}, sidecar ${sidecar}`);
    }
  });
});

describe("reporter check updates with each HTTP client (local, against the double)", () => {
  let consul: ConsulDouble;
  let dir: string;
  let here: string;
  const checkId = "service:billing-vm-1-9100";
  before(async () => {
    consul = await startConsulDouble({ token: TOKEN });
    await register(new ConsulClient({ address: consul.url, token: TOKEN }), registrationFixture({ service: "billing", host: "vm-1" }));
    dir = mkdtempSync(join(tmpdir(), `amphi-reporter-${process.pid}-`));
    // install mode writes the token files the clients read (token on stdin)
    const r = spawnSync("/bin/sh", ["-c", scriptText("reporter"), "amphi", join(dir, "reporter"), "billing.reporter", "test", "install", "#script", "AMPHI_X='1'"], { input: TOKEN, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^changed=1\nrunning=0\nclient=\w+$/m);
    here = join(dir, "reporter/apps/billing.reporter/current");
  });
  after(async () => {
    await consul.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // put_check with a PATH holding only basic tools and `client`.
  async function putCheck(client: { name: string; target: string }, verb: string, note: string): Promise<string> {
    const bin = join(dir, `bin-${client.name}-${client.target.replace(/\W/g, "_")}`);
    mkdirSync(bin, { recursive: true });
    for (const tool of ["sed", "head", "cat", "date", "grep", "timeout", "id", "pwd"]) {
      if (readdirSync(bin).includes(tool)) continue;
      const path = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (path.startsWith("/")) symlinkSync(path, join(bin, tool));
    }
    if (!readdirSync(bin).includes(client.name)) symlinkSync(client.target, join(bin, client.name));
    const fns = scriptText("reporter").split("\ncase $mode in")[0]!;
    const script = `${fns}\nHERE=$1 AMPHI_CONSUL=$2\nCLIENT=$(put_client)\nput_check "$3" "$4" "$5"; echo "rc=$? client=$CLIENT err=\${PUT_ERR:-}"`;
    const r = await promisify(execFile)("/bin/sh", ["-c", script, "amphi", dir, "", "test", "fns", here, consul.url, verb, checkId, note], { encoding: "utf8", env: { PATH: bin } });
    return r.stdout.trim();
  }

  const clients = [
    { name: "curl", target: "/usr/bin/curl" },
    { name: "wget", target: "/usr/bin/wget" },
    { name: "node", target: process.execPath },
    { name: "python3", target: "/usr/bin/python3" },
  ];
  for (const c of clients) {
    it(`${c.name}: PUTs pass/fail with the token from its file and the note URL-encoded`, { skip: spawnSync("test", ["-x", c.target]).status === 0 ? false : `${c.target} missing` }, async () => {
      const note = `GET http://127.0.0.1:9100/health?x=1&y=2 #${c.name}: 100% "ok"`;
      assert.equal(await putCheck(c, "pass", note), `rc=0 client=${c.name} err=`);
      const chk = consul.state().checks.find((x) => x.CheckID === checkId)!;
      assert.deepEqual([chk.Status, chk.Output], ["passing", note]);
      assert.equal(await putCheck(c, "fail", "down"), `rc=0 client=${c.name} err=`);
      assert.equal(consul.state().checks.find((x) => x.CheckID === checkId)!.Status, "critical");
      assert.equal(consul.requests.at(-1)!.caller, "management", "the token was sent");
    });
  }

  // get_then_pass (and passed_puts where the loop calls it: a 2xx/3xx as guessed) with a PATH whose `curl` logs
  // each run (then execs the real one), against a health server that records the headers it is sent.
  it("curl: a healthy pass GETs and PUTs in one process, the token only to Consul; a failing GET sends no pass", { skip: spawnSync("test", ["-x", "/usr/bin/curl"]).status === 0 ? false : "/usr/bin/curl missing" }, async () => {
    const second = "service:billing-vm-2-9100";
    await register(new ConsulClient({ address: consul.url, token: TOKEN }), registrationFixture({ service: "billing", host: "vm-2" }));
    let status = 200;
    const seen: (string | undefined)[] = [];
    const health = createServer((req, res) => {
      seen.push(req.headers["x-consul-token"] as string | undefined);
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => health.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
    const bin = join(dir, "bin-curl-counted");
    mkdirSync(bin, { recursive: true });
    const runs = join(dir, "curl-runs");
    writeFileSync(join(bin, "curl"), `#!/bin/sh\necho run >>${JSON.stringify(runs)}\nexec /usr/bin/curl "$@"\n`, { mode: 0o755 });
    const fns = scriptText("reporter").split("\ncase $mode in")[0]!;
    const tick = async (consulUrl: string, guess: string): Promise<string> => {
      writeFileSync(runs, "");
      const script = `${fns}\nNL='\n'\nHERE=$1 AMPHI_CONSUL=$2 AMPHI_CHECKS="$3"\nerrors=""\nget_then_pass "$4" "$5"\ncase $code in 2?? | 3??) [ "$code" != "$5" ] || passed_puts ;; esac\necho "code=$code errors=$errors"`;
      const r = await promisify(execFile)("/bin/sh", ["-c", script, "amphi", dir, "", "test", "fns", here, consulUrl, `${checkId} ${second}`, url, guess], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin` } });
      return `${r.stdout.trim()} curls=${readFileSync(runs, "utf8").split("\n").filter(Boolean).length}`;
    };
    try {
      const check = (id: string) => consul.state().checks.find((x) => x.CheckID === id)!;
      assert.equal(await tick(consul.url, "200"), "code=200 errors= curls=1");
      for (const id of [checkId, second]) assert.deepEqual([check(id).Status, check(id).Output], ["passing", `GET ${url}: 200`], id);
      assert.deepEqual(seen, [undefined], "the health URL never gets the Consul token");
      // a failing GET: curl stops before the PUTs (the loop then sends fail with its own note)
      status = 503;
      const before = consul.requests.length;
      assert.equal(await tick(consul.url, "200"), "code=503 errors= curls=1");
      assert.equal(consul.requests.length, before, "no PUT after a failing GET");
      // another 2xx than guessed: reported as the code it was (the loop sends the PUTs again with the right note)
      status = 204;
      assert.match(await tick(consul.url, "200"), /^code=204 /);
      // Consul unreachable: each check says so
      status = 200;
      assert.equal(await tick("http://127.0.0.1:1", "200"), `code=200 errors= ${checkId}: no answer; ${second}: no answer; curls=1`);
    } finally {
      health.close();
    }
  });

  it("says when no client can PUT (busybox wget cannot)", async () => {
    const out = await putCheck({ name: "wget", target: "/usr/bin/busybox" }, "pass", "x");
    assert.equal(out, "rc=1 client=none err=noclient");
  });
});

describe("health reporter on a netns host (Consul double on the fleet's root address)", { skip }, () => {
  let fleet: TestFleet;
  let connector: SshConnector;
  let consul: ConsulDouble;
  let client: ConsulClient;
  const logs: string[] = [];

  const ref = (): HostRef => {
    const h = fleet.hosts[0]!;
    return {
      group: "fleet", host: h.name, address: h.address, transport: "ssh", baseDir: h.baseDir,
      ssh: { user: h.user, port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null },
    };
  };
  const ctx = async (): Promise<TaskContext> => ({ session: await connector.open(ref()), env: "staging", now: () => new Date().toISOString(), log: (l) => logs.push(l) });
  const id = () => `billing-${fleet.hosts[0]!.name}-${PORT}`;
  const instance = () => {
    const h = fleet.hosts[0]!;
    return billingInstance(PORT, { host: h.name, hostGroup: "fleet", address: h.address, baseDir: h.baseDir, registrations: [id()] });
  };
  const check = () => consul.state().checks.find((c) => c.CheckID === checkIdOf(id()));
  const reporter = () => ({ address: consul.url, token: TOKEN, intervalSeconds: 1 });

  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 1 });
    connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
    consul = await startConsulDouble({ host: fleet.rootAddress, token: TOKEN });
    client = new ConsulClient({ address: consul.url, token: TOKEN });
    const h = fleet.hosts[0]!;
    await register(client, registrationFixture({ service: "billing", host: h.name, address: h.address, port: PORT, check: { checkId: checkIdOf(id()), ttl: "3s", deregisterCriticalServiceAfter: "1m", notes: "test" } }));
  });
  after(async () => {
    if (fleet) {
      await undeploy(await ctx(), "billing").catch(() => {});
      await connector.closeAll();
      for (const h of fleet.hosts) killUnder(h.baseDir);
      await fleet.cleanup();
    }
    await consul?.close();
    if (process.env.AMPHI_TEST_VERBOSE) console.log(logs.join("\n"));
  });

  it("deploy installs the reporter: the check passes within a few seconds", async () => {
    assert.equal(check()?.Status, "critical", "a new TTL check starts critical");
    const out = await deploy(await ctx(), instance(), { packageFile: EXAMPLE_PACKAGE, reporter: reporter() });
    assert.equal(out.result, "changed");
    assert.match(out.message, /health reporter of billing started \(pid \d+, every 1s to http:\/\/[0-9.]+:\d+\)$/);
    const t0 = performance.now();
    await eventually("the check to pass", () => check()?.Status === "passing", 5000);
    assert.ok(performance.now() - t0 < 5000);
    // without capture and a sidecar, over loopback (the instance's address may not be one the host reaches itself)
    assert.equal(check()?.Output, `GET http://127.0.0.1:${PORT}/health: 200`);
    assert.ok(consul.requests.some((r) => r.path === `/v1/agent/check/pass/${checkIdOf(id())}` && r.caller === "management"), "the token was accepted");
  });

  it("keeps the token off command lines and in mode-600 files; a second deploy changes nothing", async () => {
    const ps = await fleet.execOnHost(0, ["ps", "-eo", "args"]);
    assert.match(ps.stdout, /amphi-report/);
    assert.doesNotMatch(ps.stdout, new RegExp(TOKEN));
    const cur = join(fleet.hosts[0]!.baseDir, "reporter/apps/billing.reporter/current");
    for (const f of ["token", "curl.conf", "wgetrc", ".amphi/env"]) assert.equal(statSync(join(cur, f)).mode & 0o777, 0o600, f);
    const again = await deploy(await ctx(), instance(), { packageFile: EXAMPLE_PACKAGE, reporter: reporter() });
    assert.equal(again.result, "unchanged", again.message);
  });

  it("with capture on and no proxy listening, reports critical (clients are refused); passing again without capture", async () => {
    const env = modelFixture().environments.find((e) => e.name === "prod")!;
    const h = fleet.hosts[0]!;
    // capture with a sidecar: the reporter checks at the address clients use
    const atAddress = await deploy(await ctx(), instance(), { packageFile: EXAMPLE_PACKAGE, reporter: { ...reporter(), healthAtAddress: true } });
    assert.match(atAddress.message, /health reporter of billing restarted/);
    await eventually("the check at the instance's address", () => check()?.Output === `GET http://${h.address}:${PORT}/health: 200`, 5000);
    const rules = hostCapture(env, "fleet", h.name, [instance()]);
    // the rendered rules, as root in the host's namespace (the login user may not change iptables)
    const hooks = rules.hooks.map((k) => `iptables -w -t ${k.table} -I ${k.chain} 1 ${k.rule}`).join(" && ");
    const put = await fleet.execOnHost(0, ["sh", "-c", `iptables-restore --noflush && ${hooks}`], { input: rules.fragment });
    assert.equal(put.code, 0, put.stderr);
    try {
      await eventually("the check to go critical", () => check()?.Status === "critical", 5000);
      assert.equal(check()?.Output, `GET http://${h.address}:${PORT}/health: no answer`);
      // the app itself is fine: over loopback it answers
      const direct = await fleet.execOnHost(0, ["sh", "-c", `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${PORT}/health`]);
      assert.equal(direct.stdout, "200");
    } finally {
      const unhook = rules.hooks.map((k) => `iptables -w -t ${k.table} -D ${k.chain} ${k.rule}`).join("; ");
      const gone = await fleet.execOnHost(0, ["sh", "-c", unhook]);
      assert.equal(gone.code, 0, gone.stderr);
    }
    await eventually("the check to pass again", () => check()?.Status === "passing", 5000);
  });

  it("reports critical once the app is dead", async () => {
    const run = join(fleet.hosts[0]!.baseDir, "run");
    const kill = await fleet.execOnHost(0, ["sh", "-c", `kill -9 "$(cat ${run}/billing.supervisor.pid)"; kill -9 -"$(cat ${run}/billing.pid)"`]);
    assert.equal(kill.code, 0, kill.stderr);
    await eventually("the check to go critical", () => check()?.Status === "critical", 5000);
    assert.equal(check()?.Output, "billing is not running");
  });

  it("undeploy removes the reporter: no process, no files", async () => {
    const out = await undeploy(await ctx(), "billing", { stopGraceMs: 2000 });
    assert.equal(out.result, "changed");
    assert.ok(logs.includes("removed health reporter"), logs.join("\n"));
    const ps = await fleet.execOnHost(0, ["ps", "-eo", "args"]);
    assert.doesNotMatch(ps.stdout, /amphi-report|amphi-supervise/);
    assert.equal(existsSync(join(fleet.hosts[0]!.baseDir, "reporter")), false);
  });
});

// Host tasks through LocalConnector on temp base dirs, with the example package (a node HTTP server).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deploy, probe, restart, start, stop, undeploy, TaskError } from "../../src/hosts/tasks.js";
import { readHostState } from "../../src/hosts/state-file.js";
import {
  billingInstance,
  buildPackage,
  eventually,
  EXAMPLE_PACKAGE,
  EXAMPLE_SHA,
  freePort,
  httpGet,
  localHost,
  processesUnder,
  sha256File,
  treeListing,
  type LocalHost,
} from "../support/local-host.js";

const V1 = "2.3.0-5d3785d5";
const fast = { healthTimeoutMs: 2000, stopGraceMs: 2000 };
// For a start that must pass its health gate: the gate returns as soon as the app answers, so a long bound costs
// nothing on a quiet machine and keeps a loaded one (node taking seconds to start) from failing the test.
const patient = { healthTimeoutMs: 30_000, stopGraceMs: 2000 };

const appPid = (h: LocalHost): number => Number(readFileSync(join(h.baseDir, "run/billing.pid"), "utf8"));
const current = (h: LocalHost): string => readlinkSync(join(h.baseDir, "apps/billing/current"));
const releases = (h: LocalHost): string[] => readdirSync(join(h.baseDir, "apps/billing/releases")).sort();

async function rejectsWith(p: Promise<unknown>, re: RegExp, rolledBack: boolean): Promise<TaskError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof TaskError, `expected a TaskError, got ${String(caught)}`);
  assert.match(caught.message, re);
  assert.equal(caught.rolledBack, rolledBack, caught.message);
  return caught;
}

describe("host tasks: the life of one app", () => {
  let h: LocalHost;
  let port: number;
  let v2: { path: string; sha256: string; release: string };
  const timings: Record<string, number> = {};

  before(async () => {
    h = await localHost();
    port = await freePort();
    const pkg = buildPackage(h.dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
    v2 = { ...pkg, release: `2.4.0-${pkg.sha256.slice(0, 8)}` };
  });
  after(async () => {
    await undeploy(h.ctx(), "billing").catch(() => {});
    await h.cleanup();
    if (Object.keys(timings).length) console.log(`# timings (ms): ${JSON.stringify(timings)}`);
  });

  it("deploys: uploads, unpacks, starts, passes the health gate, records the instance", async () => {
    const t0 = performance.now();
    const out = await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE });
    timings.firstDeploy = Math.round(performance.now() - t0);
    assert.equal(out.result, "changed");
    assert.match(out.message, /^billing@2\.3\.0: deployed 2\.3\.0-5d3785d5 \(pid \d+, healthy after [\d.]+s\)$/);
    assert.deepEqual(await httpGet(port, "/health"), { status: 200, body: "ok\n" });
    assert.equal(current(h), `releases/${V1}`);
    assert.ok(existsSync(join(h.baseDir, "packages", EXAMPLE_SHA)));
    const state = await readHostState(h.session, "staging", "now");
    assert.deepEqual(state.apps.billing, { instance: billingInstance(port), release: V1, previous: null, running: true, deployedAt: state.apps.billing?.deployedAt });
    const env = join(h.baseDir, "apps/billing/releases", V1, ".amphi/env");
    assert.equal(readFileSync(env, "utf8"), "APP_VERSION='2.3.0'\n");
    assert.equal(readFileSync(`/proc/${appPid(h)}/cwd/VERSION`, "utf8"), "2.3.0\n");
  });

  it("deploys again: unchanged, same process", async () => {
    const pid = appPid(h);
    const before = treeListing(h.baseDir);
    const t0 = performance.now();
    const out = await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE });
    timings.unchangedDeploy = Math.round(performance.now() - t0);
    assert.deepEqual(out, { result: "unchanged", message: `billing@2.3.0 is up to date (${V1}, pid ${pid})` });
    assert.equal(appPid(h), pid);
    assert.deepEqual(treeListing(h.baseDir), before, "an unchanged deploy touches nothing");
  });

  it("updates only the record when nothing the process runs with changed", async () => {
    const pid = appPid(h);
    const out = await deploy(h.ctx(), billingInstance(port, { specHash: "1".repeat(64) }), { packageFile: EXAMPLE_PACKAGE });
    assert.equal(out.result, "changed");
    assert.match(out.message, /record updated/);
    assert.equal(appPid(h), pid);
    assert.equal((await readHostState(h.session, "staging", "now")).apps.billing?.instance.specHash, "1".repeat(64));
  });

  it("deploys version 2: new release, current switched, version 1 kept as previous", async () => {
    const inst = billingInstance(port, { version: "2.4.0", sha256: v2.sha256, environment: { APP_VERSION: "2.4.0" } });
    const out = await deploy(h.ctx(), inst, { packageFile: v2.path });
    assert.equal(out.result, "changed");
    assert.match(out.message, new RegExp(`deployed ${v2.release} .*; previous release ${V1}$`));
    assert.equal(current(h), `releases/${v2.release}`);
    assert.deepEqual(releases(h), [V1, v2.release].sort());
    assert.equal(JSON.parse((await httpGet(port, "/")).body).version, "2.4.0");
    const rec = (await readHostState(h.session, "staging", "now")).apps.billing;
    assert.equal(rec?.release, v2.release);
    assert.equal(rec?.previous, V1);
  });

  it("rolls back a version that fails its health check; the previous release serves again", async () => {
    const bad = buildPackage(h.dir, "billing-2.5.0", { VERSION: "2.5.0\n" });
    const inst = billingInstance(port, { version: "2.5.0", sha256: bad.sha256, environment: { APP_VERSION: "2.5.0", HEALTHY: "false" } });
    const stateBefore = readFileSync(join(h.baseDir, "state.json"), "utf8");
    await rejectsWith(
      deploy(h.ctx(), inst, { packageFile: bad.path, ...fast }),
      new RegExp(`^localhost: billing@2\\.5\\.0: health check http://127\\.0\\.0\\.1:${port}/health failed after 2s \\(503\\); rolled back to ${v2.release}$`),
      true,
    );
    assert.equal(current(h), `releases/${v2.release}`);
    assert.deepEqual(await httpGet(port, "/health"), { status: 200, body: "ok\n" });
    assert.equal(JSON.parse((await httpGet(port, "/")).body).version, "2.4.0");
    assert.equal(readFileSync(join(h.baseDir, "state.json"), "utf8"), stateBefore, "a failed deploy keeps the old record");
  });

  it("rolls back a failing env change made in place, restoring the old env file", async () => {
    const envFile = join(h.baseDir, "apps/billing/releases", v2.release, ".amphi/env");
    const envBefore = readFileSync(envFile, "utf8");
    const inst = billingInstance(port, { version: "2.4.0", sha256: v2.sha256, environment: { APP_VERSION: "2.4.0", HEALTHY: "false" } });
    await rejectsWith(deploy(h.ctx(), inst, { packageFile: v2.path, ...fast }), /failed after 2s \(503\); rolled back to 2\.4\.0-/, true);
    assert.equal(readFileSync(envFile, "utf8"), envBefore);
    assert.deepEqual(await httpGet(port, "/health"), { status: 200, body: "ok\n" });
  });

  it("rolls back a start command that exits", async () => {
    const inst = billingInstance(port, { version: "2.4.0", sha256: v2.sha256, start: "echo crashing; exit 3", environment: { APP_VERSION: "2.4.0" } });
    await rejectsWith(
      deploy(h.ctx(), inst, { packageFile: v2.path, ...fast }),
      /billing@2\.4\.0: process exited during the health check \(status 3\); see logs\/billing\.log; rolled back to 2\.4\.0-/,
      true,
    );
    assert.ok(h.logs.some((l) => l === "billing log: crashing"), "the app's last log lines are task output");
    assert.deepEqual(await httpGet(port, "/health"), { status: 200, body: "ok\n" });
  });

  it("a deploy cancelled during its health gate still rolls back", async () => {
    const bad = buildPackage(h.dir, "billing-2.5.1", { VERSION: "2.5.1\n" });
    const inst = billingInstance(port, { version: "2.5.1", sha256: bad.sha256, environment: { HEALTHY: "false" } });
    const ac = new AbortController();
    // Cancelled once the health gate runs (its script started on the host), however long the steps before take.
    const ctx = h.ctx(ac.signal);
    const session = ctx.session;
    const watched = {
      ...session,
      host: session.host,
      exec: (argv: string[], opts?: Parameters<typeof session.exec>[1]) => {
        if ((argv[2] ?? "").includes("\n# health.sh ")) setTimeout(() => ac.abort(), 200);
        return session.exec(argv, opts);
      },
      putFile: session.putFile.bind(session),
      close: session.close.bind(session),
    };
    await rejectsWith(
      deploy({ ...ctx, session: watched }, inst, { packageFile: bad.path, healthTimeoutMs: 60_000 }),
      /^localhost: billing@2\.5\.1: cancelled while starting; rolled back to 2\.4\.0-/,
      true,
    );
    assert.equal(current(h), `releases/${v2.release}`);
    assert.equal(JSON.parse((await httpGet(port, "/")).body).version, "2.4.0");
  });

  it("refuses a package whose sha256 does not match, before anything changes", async () => {
    const before = treeListing(h.baseDir);
    const pid = appPid(h);
    const wrong = "0".repeat(64);
    const inst = billingInstance(port, { version: "2.6.0", sha256: wrong });
    await rejectsWith(
      deploy(h.ctx(), inst, { packageFile: EXAMPLE_PACKAGE }),
      new RegExp(`^localhost: billing@2\\.6\\.0: sha256 mismatch for packages/${wrong} \\(expected 000000000000…, got ${EXAMPLE_SHA.slice(0, 12)}…\\)$`),
      false,
    );
    assert.deepEqual(treeListing(h.baseDir), before);
    assert.equal(appPid(h), pid);
  });

  it("probe: running and healthy", async () => {
    const p = await probe(h.ctx());
    assert.deepEqual(p.processes, { billing: "running" });
    assert.deepEqual(p.health, { billing: "ok" });
    assert.equal(p.state.apps.billing?.release, v2.release);
  });

  it("the supervisor restarts a killed app", async () => {
    const pid = appPid(h);
    process.kill(pid, "SIGKILL");
    assert.ok(await eventually(async () => existsSync(join(h.baseDir, "run/billing.pid")) && appPid(h) !== pid && (await httpGet(port, "/health")).status === 200, 60_000));
    assert.match(readFileSync(join(h.baseDir, "logs/billing.log"), "utf8"), /billing exited with status 137 after \d+s; restarting in 1s/);
  });

  it("stop: no process left, recorded as stopped; stopping again is unchanged", async () => {
    const out = await stop(h.ctx(), "billing", fast);
    assert.deepEqual(out, { result: "changed", message: "billing@2.4.0: stopped" });
    assert.deepEqual(processesUnder(h.baseDir), []);
    assert.equal((await httpGet(port, "/health")).status, 0);
    assert.equal((await readHostState(h.session, "staging", "now")).apps.billing?.running, false);
    assert.equal((await stop(h.ctx(), "billing", fast)).result, "unchanged");
    const p = await probe(h.ctx());
    assert.deepEqual([p.processes, p.health], [{ billing: "stopped" }, { billing: "failing" }]);
  });

  it("start: running again; starting again is unchanged", async () => {
    const out = await start(h.ctx(), "billing", patient);
    assert.equal(out.result, "changed");
    assert.deepEqual(await httpGet(port, "/health"), { status: 200, body: "ok\n" });
    assert.equal((await readHostState(h.session, "staging", "now")).apps.billing?.running, true);
    assert.equal((await start(h.ctx(), "billing", fast)).result, "unchanged");
  });

  it("restart: a new process", async () => {
    const pid = appPid(h);
    const out = await restart(h.ctx(), "billing", patient);
    assert.equal(out.result, "changed");
    assert.notEqual(appPid(h), pid);
    assert.equal((await httpGet(port, "/health")).status, 200);
  });

  it("undeploy: no process, no files of the app, no record; again is unchanged", async () => {
    const out = await undeploy(h.ctx(), "billing", fast);
    assert.deepEqual(out, { result: "changed", message: "billing@2.4.0: stopped and undeployed" });
    assert.deepEqual(processesUnder(h.dir), []);
    assert.equal((await httpGet(port, "/health")).status, 0);
    assert.deepEqual(
      treeListing(h.baseDir).filter((p) => !p.startsWith("bin/") && !p.startsWith("state.json")),
      ["apps/", "logs/", "packages/", "run/"],
      "only amphi's own empty directories, bin/ and state.json remain",
    );
    assert.deepEqual((await readHostState(h.session, "staging", "now")).apps, {});
    assert.deepEqual(await undeploy(h.ctx(), "billing"), { result: "unchanged", message: "billing is not deployed" });
    assert.deepEqual((await probe(h.ctx())).processes, {});
  });
});

describe("host tasks: first deploys that fail", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    for (const app of ["billing", "quiet", "cached"]) await undeploy(h.ctx(), app).catch(() => {});
    await h.cleanup();
  });

  it("a wrong sha256 on a fresh host leaves no trace", async () => {
    const port = await freePort();
    await rejectsWith(deploy(h.ctx(), billingInstance(port, { sha256: "f".repeat(64) }), { packageFile: EXAMPLE_PACKAGE }), /sha256 mismatch/, false);
    assert.equal(existsSync(h.baseDir), false);
  });

  it("a failing first deploy stops the app and leaves no current release and no record", async () => {
    const port = await freePort();
    const inst = billingInstance(port, { environment: { HEALTHY: "false" } });
    await rejectsWith(
      deploy(h.ctx(), inst, { packageFile: EXAMPLE_PACKAGE, ...fast }),
      /failed after 2s \(503\); stopped; there is no previous release to roll back to$/,
      true,
    );
    assert.deepEqual(processesUnder(h.baseDir), []);
    assert.equal(existsSync(join(h.baseDir, "apps/billing/current")), false);
    assert.deepEqual((await readHostState(h.session, "staging", "now")).apps, {});
    // the next good deploy reuses the unpacked release
    h.logs.length = 0;
    const ok = await deploy(h.ctx(), billingInstance(port), { packageFile: EXAMPLE_PACKAGE });
    assert.equal(ok.result, "changed");
    assert.deepEqual(h.logs.filter((l) => l.startsWith("uploading")), [], "no second upload");
    await undeploy(h.ctx(), "billing");
    assert.deepEqual(processesUnder(h.baseDir), []);
  });

  it("a corrupt package in the host's cache is deleted and uploaded again", async () => {
    const port = await freePort();
    mkdirSync(join(h.baseDir, "packages"), { recursive: true });
    writeFileSync(join(h.baseDir, "packages", EXAMPLE_SHA), "not the package");
    h.logs.length = 0;
    assert.equal((await deploy(h.ctx(), billingInstance(port, { app: "cached" }), { packageFile: EXAMPLE_PACKAGE })).result, "changed");
    assert.ok(h.logs.some((l) => /did not match its sha256; deleted it, uploading again/.test(l)), h.logs.join("\n"));
    assert.equal(sha256File(join(h.baseDir, "packages", EXAMPLE_SHA)), EXAMPLE_SHA);
    await undeploy(h.ctx(), "cached");
  });

  it("an app without a health check passes once it stays up for a second", async () => {
    const port = await freePort();
    const t0 = performance.now();
    const out = await deploy(h.ctx(), billingInstance(port, { app: "quiet", health: null }), { packageFile: EXAMPLE_PACKAGE });
    assert.match(out.message, /up for [\d.]+s/);
    assert.ok(performance.now() - t0 >= 1000);
    const p = await probe(h.ctx());
    assert.deepEqual([p.processes.quiet, p.health.quiet], ["running", "none"]);
    await undeploy(h.ctx(), "quiet");
    assert.deepEqual(processesUnder(h.baseDir), []);
  });

  it("rejects environment names a shell cannot assign, before touching the host", async () => {
    const port = await freePort();
    const before = treeListing(h.dir);
    await rejectsWith(deploy(h.ctx(), billingInstance(port, { environment: { "BAD-NAME": "x", "$(id)": "y" } }), { packageFile: EXAMPLE_PACKAGE }), /environment names must match .*: \$\(id\), BAD-NAME/, false);
    assert.deepEqual(treeListing(h.dir), before);
  });
});

describe("host tasks: two apps from one package", () => {
  let h: LocalHost;
  before(async () => {
    h = await localHost();
  });
  after(async () => {
    for (const app of ["one", "two"]) await undeploy(h.ctx(), app).catch(() => {});
    await h.cleanup();
  });

  it("keeps the cached package while another app's release uses it, and values with quotes reach the app intact", async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const tricky = `it's "quoted" $HOME \`x\` \\ end`;
    await deploy(h.ctx(), billingInstance(p1, { app: "one" }), { packageFile: EXAMPLE_PACKAGE });
    await deploy(h.ctx(), billingInstance(p2, { app: "two", environment: { APP_VERSION: tricky } }), { packageFile: EXAMPLE_PACKAGE });
    assert.equal(h.logs.filter((l) => l.startsWith("uploading")).length, 1, "the second app reuses the cached package");
    assert.equal(JSON.parse((await httpGet(p2, "/")).body).version, tricky);
    await undeploy(h.ctx(), "one");
    assert.ok(existsSync(join(h.baseDir, "packages", EXAMPLE_SHA)));
    assert.equal((await httpGet(p2, "/health")).status, 200);
    await undeploy(h.ctx(), "two");
    assert.equal(existsSync(join(h.baseDir, "packages", EXAMPLE_SHA)), false);
    assert.deepEqual(processesUnder(h.baseDir), []);
  });
});

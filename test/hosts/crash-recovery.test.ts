// `amphi apply` SIGKILLed mid-deploy (a real child process, transport local), then run again:
// - killed in the health gate of a failing update, the next run puts back the last good release (not the
//   failed one it was switching to), for a new version and for an env change made in place (issue 9, item 7);
// - killed in the first moments of a first deploy, the app it started is known to the next plan, so
//   removing its placement undeploys it; an app running with no record at all (state.json gone) too (item 8);
// - killed while its install unpacks the release (held there by a tar that waits for the test), the next run's
//   install waits for that one, which goes on, instead of unpacking beside it and pruning its temp dir away.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crashEnv, readOr, waitFor, type CrashEnv } from "../support/crash-env.js";
import { eventually, httpGet, processesUnder } from "../support/local-host.js";

const version = async (env: CrashEnv) => {
  const r = await httpGet(env.port, "/");
  return r.status === 200 ? (JSON.parse(r.body) as { version: string }).version : null;
};

/** The host runs `release` as state.json says, healthy, with no deploy left pending and no other process. */
async function runsOnly(env: CrashEnv, release: string, detail: string): Promise<void> {
  assert.equal(env.current(), release, detail);
  const state = env.state();
  assert.equal(state?.apps.billing?.release, release, detail);
  assert.equal(state?.apps.billing?.running, true, detail);
  assert.deepEqual(state?.pending ?? {}, {}, detail);
  // (a restored release may still be starting on a loaded machine: its own gate is not what is tested here)
  assert.ok(await eventually(async () => (await httpGet(env.port, "/health")).status === 200, 20_000), `healthy\n${detail}`);
  const pid = Number(readFileSync(join(env.baseDir, "run/billing.pid"), "utf8"));
  const procs = env.appProcesses();
  assert.ok(procs.some((p) => p.pid === pid), `${detail}\napp pid ${pid} is not running: ${JSON.stringify(procs)}`);
  const stray = procs.filter((p) => !p.cwd.startsWith(join(env.baseDir, "apps/billing/releases", release)));
  assert.deepEqual(stray, [], detail);
}

describe("SIGKILL during a failing update", () => {
  let env: CrashEnv;
  before(async () => {
    env = await crashEnv("amphi-crash-update");
    await env.setDesired({ version: "2.3.0" });
    const first = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => env.cleanup());

  it("killed in the health gate of a bad version: the next run rolls back to the last good release", async () => {
    await env.setDesired({ version: "2.5.0" });
    const killed = env.spawn(["apply", "--env", "local", "--yes", "--health-timeout", "60"]);
    // the switch happened and the bad release runs: amphi is in its health gate
    await waitFor("the switch to 2.5.0", () => env.current() === env.release["2.5.0"] && readOr(join(env.baseDir, "run/billing.pid")).trim());
    await waitFor("the bad release to answer", async () => (await version(env)) === "2.5.0", 20_000).catch(() => {});
    killed.kill();
    await killed.exited;
    const again = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "2"]);
    const out = again.stdout + again.stderr;
    assert.equal(again.code, 1, out);
    assert.match(out, new RegExp(`rolled back to ${env.release["2.3.0"]}`), out);
    await runsOnly(env, env.release["2.3.0"], out);
    assert.equal(await version(env), "2.3.0");
  });

});

describe("SIGKILL during a failing env change made in place", () => {
  let env: CrashEnv;
  before(async () => {
    env = await crashEnv("amphi-crash-env");
    await env.setDesired({ version: "2.3.0" });
    const first = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => env.cleanup());

  it("killed in the health gate of an env change made in place: the next run restores the good env files", async () => {
    const release = env.release["2.3.0"];
    const envFile = join(env.baseDir, "apps/billing/releases", release, ".amphi/env");
    const good = readFileSync(envFile, "utf8");
    await env.setDesired({ version: "2.3.0", env: { HEALTHY: "false" } });
    const killed = env.spawn(["apply", "--env", "local", "--yes", "--health-timeout", "60"]);
    await waitFor("the new env file in place", () => readOr(envFile).includes("HEALTHY") && existsSync(join(env.baseDir, "apps/billing/releases", release, ".amphi/rollback")));
    await waitFor("the changed app to answer", async () => (await httpGet(env.port, "/health")).status === 503, 20_000).catch(() => {});
    killed.kill();
    await killed.exited;
    const again = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "2"]);
    const out = again.stdout + again.stderr;
    assert.equal(again.code, 1, out);
    assert.equal(readFileSync(envFile, "utf8"), good, out);
    await runsOnly(env, release, out);
    assert.deepEqual(env.state()?.apps.billing?.instance.environment, { APP_VERSION: "2.3.0" });
  });
});

describe("SIGKILL in the first moments of a first deploy", () => {
  let env: CrashEnv;
  before(async () => {
    env = await crashEnv("amphi-crash-first");
  });
  after(() => env.cleanup());

  it("the app it started is known to the next plan: removing its placement undeploys it", async () => {
    await env.setDesired({ version: "2.3.0" });
    const killed = env.spawn(["apply", "--env", "local", "--yes", "--health-timeout", "60"]);
    await waitFor("the supervisor to be started", () => existsSync(join(env.baseDir, "run/billing.supervisor.pid")));
    killed.kill();
    await killed.exited;
    // the host script amphi was running goes on without it and starts the app
    await waitFor("the app to run", async () => (await version(env)) === "2.3.0", 30_000).catch(() => {});
    await waitFor("an app process", () => env.appProcesses().length > 0, 30_000);
    await env.setDesired(null);
    const plan = await env.run(["plan", "--env", "local"]);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /here\/localhost\s+billing\s+delete/, plan.stdout);
    const apply = await env.run(["apply", "--env", "local", "--yes"]);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.deepEqual(env.appProcesses(), []);
    assert.equal(existsSync(join(env.baseDir, "apps/billing")), false);
    assert.deepEqual(env.state()?.apps, {});
  });

  it("an app that runs with no record at all (state.json and its backup gone) is planned for: redeployed when desired, undeployed when not", async () => {
    await env.setDesired({ version: "2.3.0" });
    const first = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(first.code, 0, first.stderr);
    rmSync(join(env.baseDir, "state.json"));
    rmSync(join(env.baseDir, "state.json.bak"), { force: true });
    const plan = await env.run(["plan", "--env", "local"]);
    assert.equal(plan.code, 2, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /billing\s+update\s+billing\s+record running-unrecorded\(2\.3\.0-5d3785d5\)→recorded/, plan.stdout);
    const again = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    await runsOnly(env, env.release["2.3.0"], again.stderr);
    rmSync(join(env.baseDir, "state.json"));
    rmSync(join(env.baseDir, "state.json.bak"), { force: true });
    await env.setDesired(null);
    const gone = await env.run(["apply", "--env", "local", "--yes"]);
    assert.equal(gone.code, 0, gone.stdout + gone.stderr);
    assert.match(gone.stderr, /undeploy billing\s+succeeded/, gone.stderr);
    assert.deepEqual(env.appProcesses(), []);
  });
});

describe("SIGKILL while the install of a first deploy unpacks", () => {
  let env: CrashEnv;
  before(async () => {
    env = await crashEnv("amphi-crash-install");
  });
  after(() => env.cleanup());

  it("the next run's install waits for the killed run's, which goes on; nothing is unpacked twice, the package stays cached", async () => {
    await env.setDesired({ version: "2.3.0" });
    // a tar that holds an unpack (-x) until the test lets it go, first on the PATH of the run that is killed
    const bin = join(env.dir, "held-bin");
    const held = join(env.dir, "unpack-held");
    const go = join(env.dir, "unpack-go");
    mkdirSync(bin);
    const script = `case " $* " in *" -x "*) : >"${held}"; while [ ! -e "${go}" ]; do sleep 0.05; done ;; esac\nPATH='${process.env.PATH}' exec tar "$@"`;
    writeFileSync(join(bin, "tar"), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, "tar"), 0o755);
    const args = ["apply", "--env", "local", "--yes", "--health-timeout", "30"];
    const killed = env.spawn(args, { PATH: `${bin}:${process.env.PATH}` });
    await waitFor("the install to unpack", () => existsSync(held));
    killed.kill();
    await killed.exited;
    const installs = () => processesUnder(env.baseDir).filter((p) => p.cmd.includes("# install.sh RELEASE"));
    const rerun = env.run(args);
    let finished = false;
    void rerun.then(() => (finished = true));
    // the killed run's install (held in its tar) and the next run's, waiting for the app's lock
    await waitFor("a second install", () => installs().length >= 2 || finished);
    writeFileSync(go, "");
    const r = await rerun;
    const out = r.stdout + r.stderr;
    await waitFor("the killed run's install to end", () => installs().length === 0);
    assert.equal(r.code, 0, out);
    const release = env.release["2.3.0"];
    await runsOnly(env, release, out);
    assert.deepEqual(readdirSync(join(env.baseDir, "apps/billing/releases")), [release], "no temp dir left");
    assert.deepEqual(readdirSync(join(env.baseDir, "apps/billing/releases", release)).filter((f) => f.startsWith(".tmp.")), [], "nothing unpacked into the release");
    const sha = env.state()!.apps.billing!.instance.sha256;
    assert.ok(existsSync(join(env.baseDir, "packages", sha)), `packages/${sha} is still cached (an unpack that failed would have refused and deleted it)`);
  });
});

describe("a zero-byte state.json, seen through the CLI", () => {
  let env: CrashEnv;
  before(async () => {
    env = await crashEnv("amphi-crash-state");
  });
  after(() => env.cleanup());

  it("plan warns naming host and file and reads the previous copy; it never plans to create the running app", async () => {
    await env.setDesired({ version: "2.3.0" });
    const first = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(first.code, 0, first.stderr);
    writeFileSync(join(env.baseDir, "state.json"), "");
    const plan = await env.run(["plan", "--env", "local"]);
    const file = join(env.baseDir, "state.json");
    assert.match(plan.stderr, new RegExp(`warning: localhost: ${file} is empty \\(0 bytes\\); using the previous copy ${file}\\.bak`), plan.stderr);
    assert.doesNotMatch(plan.stdout, /\bcreate\b.*billing|[1-9]\d* to create/, plan.stdout);
    const apply = await env.run(["apply", "--env", "local", "--yes", "--health-timeout", "20"]);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    await runsOnly(env, env.release["2.3.0"], apply.stderr);
    const again = await env.run(["plan", "--env", "local"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });
});

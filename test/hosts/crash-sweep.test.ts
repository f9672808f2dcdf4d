// Crash-safety sweep (issue 9): `amphi apply` and `amphi reconcile --once` SIGKILLed (their whole process
// group; the scripts they ran on the host go on, as over a dropped ssh connection) at 20 points spread over
// first deploys, updates, failing updates (a package whose health check fails, and an env change in place
// that makes it fail) and undeploys, each followed by a plain rerun. After every rerun the host runs the
// desired release, or the last good one when the desired one fails; state.json says what runs (current
// symlink, live app pid, no deploy left pending); no process runs that no record knows. Two lanes (each its
// own config repo, host base dir and port) run side by side to keep the sweep short.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { crashEnv, readOr, waitFor, type CrashEnv, type Desired } from "../support/crash-env.js";
import { eventually, httpGet } from "../support/local-host.js";

type Phase = "first" | "update" | "failing" | "undeploy";
/** When to kill: ms after the task line `running`, or a marker on the host. */
type Trigger = { afterTaskMs: number } | { marker: "pending" | "supervisor" | "switched" | "new-pid" | "answers" | "rolled-back" | "stopped" | "removed" };

const envs: CrashEnv[] = [];
const log: string[] = [];

before(async () => {
  envs.push(await crashEnv("amphi-crash-sweep-a"), await crashEnv("amphi-crash-sweep-b"));
});
after(() => {
  if (log.length) console.log(`# kill points:\n# ${log.sort().join("\n# ")}`);
  for (const env of envs) env.cleanup();
});

/** Each cycle: a first deploy of 2.3.0, an update to 2.4.0, a failing change, an undeploy. */
const CYCLES: { cmd: "apply" | "reconcile"; badEnv: boolean; at: Record<Phase, Trigger> }[] = [
  { cmd: "apply", badEnv: false, at: { first: { afterTaskMs: 0 }, update: { afterTaskMs: 100 }, failing: { marker: "switched" }, undeploy: { afterTaskMs: 0 } } },
  { cmd: "reconcile", badEnv: true, at: { first: { marker: "pending" }, update: { marker: "switched" }, failing: { marker: "pending" }, undeploy: { afterTaskMs: 150 } } },
  { cmd: "apply", badEnv: false, at: { first: { marker: "supervisor" }, update: { marker: "answers" }, failing: { afterTaskMs: 50 }, undeploy: { marker: "stopped" } } },
  { cmd: "reconcile", badEnv: true, at: { first: { marker: "answers" }, update: { marker: "pending" }, failing: { marker: "switched" }, undeploy: { marker: "removed" } } },
  { cmd: "apply", badEnv: false, at: { first: { afterTaskMs: 300 }, update: { marker: "new-pid" }, failing: { marker: "rolled-back" }, undeploy: { afterTaskMs: 40 } } },
];

function argsOf(cmd: "apply" | "reconcile", healthTimeout: number): string[] {
  const common = ["--env", "local", "--health-timeout", String(healthTimeout)];
  return cmd === "apply" ? ["apply", ...common, "--yes"] : ["reconcile", ...common, "--once"];
}

function desiredOf(phase: Phase, badEnv: boolean): Desired {
  switch (phase) {
    case "first":
      return { version: "2.3.0" };
    case "update":
      return { version: "2.4.0" };
    case "failing":
      return badEnv ? { version: "2.4.0", env: { HEALTHY: "false" } } : { version: "2.5.0" };
    case "undeploy":
      return null;
  }
}

/** One lane: an environment and the release it last deployed successfully. */
interface Lane {
  env: CrashEnv;
  lastGood: { release: string; version: string } | null;
}

const appPid = (env: CrashEnv) => readOr(join(env.baseDir, "run/billing.pid")).trim();

/** Resolves when the trigger's moment has come (the caller races it against the run's end). */
async function reached(lane: Lane, t: Trigger, stderr: () => string, phase: Phase, target: string | null): Promise<void> {
  const { env } = lane;
  if ("afterTaskMs" in t) {
    await waitFor("the task to start", () => /\b(deploy|undeploy) billing\s+running/.test(stderr()));
    await new Promise((r) => setTimeout(r, t.afterTaskMs));
    return;
  }
  const base = env.baseDir;
  const pending = () => readOr(join(base, "state.json")).includes('"pending"');
  const pidBefore = appPid(env);
  // an env change in place keeps `current`: there the switch is the new env file taking its place
  const inPlace = target !== null && target === lane.lastGood?.release;
  const newEnv = () => readOr(join(base, "apps/billing/current/.amphi/env")).includes("HEALTHY");
  const isNew = () => env.current() === target && (!inPlace || newEnv());
  const isOld = () => env.current() === lane.lastGood?.release && (!inPlace || !newEnv());
  if (t.marker === "rolled-back") await waitFor("the switch", isNew);
  const checks: Record<typeof t.marker, () => boolean | Promise<boolean>> = {
    pending,
    supervisor: () => existsSync(join(base, "run/billing.supervisor.pid")),
    switched: isNew,
    "new-pid": () => appPid(env) !== "" && appPid(env) !== pidBefore,
    answers: async () => isNew() && (await httpGet(env.port, "/health")).status !== 0,
    // the failed release's rollback has switched back, the run has not finished it
    "rolled-back": () => isOld() && pending(),
    stopped: () => env.appProcesses().length === 0,
    removed: () => !existsSync(join(base, "apps/billing")),
  };
  await waitFor(`${t.marker} (${phase})`, checks[t.marker]);
}

/** What the host must look like after the rerun. */
async function converged(lane: Lane, phase: Phase, d: Desired, detail: string): Promise<void> {
  const { env } = lane;
  const state = env.state();
  assert.deepEqual(state?.pending ?? {}, {}, `no deploy left pending\n${detail}`);
  if (d === null) {
    assert.deepEqual(state?.apps ?? {}, {}, detail);
    assert.deepEqual(env.appProcesses(), [], detail);
    assert.equal(existsSync(join(env.baseDir, "apps/billing")), false, detail);
    return;
  }
  const want = phase === "failing" ? lane.lastGood! : { release: env.release[d.version], version: d.version };
  const rec = state?.apps.billing;
  assert.equal(rec?.release, want.release, detail);
  assert.equal(rec?.running, true, detail);
  assert.equal(env.current(), want.release, detail);
  if (phase !== "failing") assert.deepEqual(rec?.instance.environment, { APP_VERSION: d.version, ...d.env }, detail);
  else assert.equal(rec?.instance.environment.HEALTHY, undefined, detail);
  const pid = Number(appPid(env));
  const procs = env.appProcesses();
  assert.ok(procs.some((p) => p.pid === pid), `the recorded app pid ${pid} runs\n${JSON.stringify(procs)}\n${detail}`);
  const unknown = procs.filter((p) => !p.cwd.startsWith(join(env.baseDir, "apps/billing/releases", want.release)));
  assert.deepEqual(unknown, [], `every process under the base dir is the recorded release's\n${detail}`);
  // a release put back after a failed one may still be starting on a loaded machine
  assert.ok(await eventually(async () => (await httpGet(env.port, "/health")).status === 200, 20_000), `healthy\n${detail}`);
  const r = await httpGet(env.port, "/");
  assert.equal(r.status, 200, detail);
  assert.equal((JSON.parse(r.body) as { version: string }).version, want.version, detail);
}

/** Runs the kill points of some cycles one after the other on one lane; returns how many kills hit a live run. */
async function sweep(lane: Lane, cycles: number[]): Promise<number> {
  const { env } = lane;
  let hits = 0;
  for (const c of cycles) {
    const cycle = CYCLES[c]!;
    for (const [i, phase] of (["first", "update", "failing", "undeploy"] as const).entries()) {
      const point = c * 4 + i + 1;
      const d = desiredOf(phase, cycle.badEnv);
      await env.setDesired(d);
      const trigger = cycle.at[phase];
      const target = d ? env.release[d.version] : null;
      // a failing deploy's gate waits long, so the kill lands in it, except where the kill waits for its rollback
      const slow = phase === "failing" && !("marker" in trigger && trigger.marker === "rolled-back");
      const t0 = Date.now();
      const child = env.spawn(argsOf(cycle.cmd, slow ? 60 : phase === "failing" ? 2 : 30));
      let ended = false;
      void child.exited.then(() => (ended = true));
      await Promise.race([reached(lane, trigger, child.stderr, phase, target), child.exited]);
      const hit = !ended;
      child.kill();
      await child.exited;
      if (hit) hits++;
      const t1 = Date.now();
      const rerun = await env.run(argsOf(cycle.cmd, phase === "failing" ? 2 : 30));
      const where = `point ${String(point).padStart(2)}: ${cycle.cmd} ${phase} killed at ${JSON.stringify(trigger)}${hit ? "" : " (the run had ended)"}`;
      log.push(`${where}; rerun exit ${rerun.code} (killed run ${t1 - t0} ms, rerun ${Date.now() - t1} ms)`);
      const detail = `${where}\n--- killed run:\n${child.stderr()}\n--- rerun (exit ${rerun.code}):\n${rerun.stdout}${rerun.stderr}\n--- state.json:\n${readOr(join(env.baseDir, "state.json"))}`;
      assert.equal(rerun.code, phase === "failing" ? 1 : 0, detail);
      await converged(lane, phase, d, detail);
      if (phase === "update") lane.lastGood = { release: env.release["2.4.0"], version: "2.4.0" };
      if (phase === "undeploy") lane.lastGood = null;
    }
  }
  return hits;
}

test("SIGKILL at 20 points of apply and reconcile --once, each followed by a plain rerun: the host converges", async () => {
  const [a, b] = envs as [CrashEnv, CrashEnv];
  const hits = await Promise.all([sweep({ env: a, lastGood: null }, [0, 2, 4]), sweep({ env: b, lastGood: null }, [1, 3])]);
  const total = hits[0] + hits[1];
  // every kill but the odd one that lost the race against a fast run landed in a running process
  assert.ok(total >= 17, `${total} of 20 kills hit a running amphi:\n${log.join("\n")}`);
});

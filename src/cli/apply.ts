// `amphi apply --env E`: plan against live state, then run the plan's tasks as a recorded run.
// `--async` records the run, starts a detached runner for it and prints the run ID.
import type { Command } from "@commander-js/extra-typings";
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { openSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline/promises";
import { InputError, type Plan, type RunRecord } from "../model/index.js";
import { formatPlanText, formatUnseen } from "../plan/format.js";
import { applyPlan, newRun, newRunId } from "../reconcile/apply.js";
import { reachOptions, repoOptions } from "./options.js";
import { EXIT, loadRepoWithSource, runAction, type Io } from "./common.js";
import { envContext, findEnv, handlersFor, parseHealthTimeout, syncPodsLogged, type EnvContext } from "./context.js";
import { hasChanges } from "./plan.js";
import { planLive } from "../reconcile/pipeline.js";
import { formatRun, progressPrinter } from "./progress.js";
import { DEFAULT_LOCK_TIMEOUT, lockEnv, type EnvLock } from "./lock.js";
import { duration } from "./reconcile.js";

/** Options of `amphi apply`. */
interface ApplyOptions {
  env: string;
  repo?: string;
  rev?: string;
  yes?: boolean;
  async?: boolean;
  runId?: string;
  parallel?: string;
  healthTimeout?: string;
  acceptNewHostKeys?: boolean;
  kubeconfig?: string;
  forceConflicts?: boolean;
  lockTimeout?: string;
  debug?: boolean;
}

/** Registers `amphi apply` on the program. */
export function applyCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  const cmd = repoOptions(
    program
      .command("apply")
      .description("plan one environment against its live state and apply the changes as a recorded run")
      .requiredOption("--env <env>", "environment to apply (environments/<env>.yaml)"),
    "apply",
  )
    .option("--yes", "do not ask for confirmation when stdin is a terminal")
    .option("--async", "record the run, start it in the background and print its ID (see `amphi tasks`)")
    .option("--run-id <id>", "continue a run recorded by --async (used by the background runner)");
  reachOptions(cmd, "hosts worked on at once (host groups' maxUnavailable also applies)")
    .option("--health-timeout <seconds>", "how long a deploy waits for its health check", "30")
    .option("--force-conflicts", "server-side apply takes over fields other field managers own (kubectl --force-conflicts)")
    .option("--lock-timeout <duration>", "how long to wait while another amphi changes the environment (apply, reconcile, serve)", DEFAULT_LOCK_TIMEOUT)
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts: ApplyOptions) => {
      setCode(await runAction(io, opts.debug, () => apply(io, opts, signal)));
    });
}

async function apply(io: Io, opts: ApplyOptions, signal: AbortSignal): Promise<number> {
  const healthTimeoutMs = parseHealthTimeout(opts.healthTimeout);
  const lockTimeoutMs = duration(opts.lockTimeout ?? DEFAULT_LOCK_TIMEOUT, "--lock-timeout");
  const { model, source } = await loadRepoWithSource(io, opts);
  const ctx = envContext(io, source, findEnv(model, opts.env), opts);
  // Held from reading live state to the end of the run, so the plan is made from what no one else is changing.
  // `--async` only plans and records: its runner takes the lock (and plans again under it).
  let lock: EnvLock | null = null;
  try {
    if (!opts.async || opts.runId) lock = await lockEnv(io, ctx.env, lockTimeoutMs, signal).catch(async (e: Error) => {
      if (opts.runId) await failQueued(ctx, opts.runId, e.message);
      throw e;
    });
    const { desired, plan } = await planLive(model, opts.env, () => ctx.readActual(signal));
    if (!opts.runId) io.err(formatPlanText(plan));
    const podSync = () => syncPodsLogged(ctx, model.apps, (l) => io.err(l + "\n"), signal);
    if (!hasChanges(plan) && !opts.runId) {
      await podSync();
      return unseen(io, plan) ?? EXIT.ok;
    }
    if (!opts.runId && !opts.yes && process.stdin.isTTY && !(await confirm(io, `Apply these changes to ${plan.env}?`))) {
      io.err("amphi: nothing applied\n");
      return EXIT.ok;
    }
    const run = opts.runId ? await resume(ctx, opts.runId) : newRun(newRunId(ctx.clock.now()), plan, source.description, ctx.clock.now());
    if (opts.async && !opts.runId) return startAsync(io, ctx, run, opts, plan.revision);
    const handlers = handlersFor(ctx, { healthTimeoutMs, forceConflicts: opts.forceConflicts });
    await ctx.store.saveRun(run);
    const live = Boolean((process.stderr as { isTTY?: boolean }).isTTY) && io.err === processErr;
    const done = await applyPlan(model, plan, desired, run, {
      handlers, store: ctx.store, clock: ctx.clock, parallel: ctx.parallel, signal, onProgress: progressPrinter(io.err, live),
    });
    io.out(`${formatRun(done)}\n${done.message}\n`);
    await podSync();
    return done.state === "succeeded" ? (unseen(io, plan) ?? EXIT.ok) : EXIT.error;
  } finally {
    await lock?.release();
    await ctx.close();
  }
}

// The --async runner could not take the lock: its queued run ends failed with why, instead of staying queued.
async function failQueued(ctx: EnvContext, id: string, message: string): Promise<void> {
  const run = await ctx.store.getRun(id);
  if (!run || run.state !== "queued") return;
  const now = ctx.clock.now().toISOString();
  await ctx.store.saveRun({ ...run, state: "failed", startedAt: now, endedAt: now, message: `not started: ${message}`, pid: process.pid, host: hostname() });
}

// Why not 0 when targets were unreachable: what could not be seen was not applied; the run is not a success.
function unseen(io: Io, plan: Plan): number | null {
  if (plan.unknown.length === 0) return null;
  io.err(`amphi: ${plan.env}: ${formatUnseen(plan)}; nothing was applied there\n`);
  return EXIT.unseen;
}

const AMPHI_BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));
const processErr = (t: string): void => void process.stderr.write(t);

async function resume(ctx: EnvContext, id: string): Promise<RunRecord> {
  const run = await ctx.store.getRun(id);
  if (!run) throw new InputError(`no run ${id} in ${ctx.store.dir}`);
  if (run.state !== "queued") throw new InputError(`run ${id} is ${run.state}, not queued`);
  return { ...run, pid: process.pid, host: hostname() };
}

// Why pin the revision: the background runner must apply what was planned, even if the branch moves.
async function startAsync(io: Io, ctx: EnvContext, run: RunRecord, opts: ApplyOptions, revision: string | null): Promise<number> {
  // No pid yet: the runner records its own when it picks the run up (saving again here could overwrite
  // the runner's progress).
  await ctx.store.saveRun({ ...run, pid: null, host: null });
  const logDir = join(ctx.store.dir, "runs");
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, `${run.id}.log`), "a");
  const args = [AMPHI_BIN, "apply", "--env", opts.env, "--run-id", run.id, "--yes", "--parallel", opts.parallel ?? "10", "--health-timeout", opts.healthTimeout ?? "30", "--lock-timeout", opts.lockTimeout ?? DEFAULT_LOCK_TIMEOUT];
  if (opts.repo) args.push("--repo", opts.repo);
  if (opts.rev) args.push("--rev", revision ?? opts.rev);
  if (opts.acceptNewHostKeys) args.push("--accept-new-host-keys");
  if (opts.kubeconfig) args.push("--kubeconfig", opts.kubeconfig);
  if (opts.forceConflicts) args.push("--force-conflicts");
  const child = spawn(process.execPath, args, { cwd: io.cwd, detached: true, stdio: ["ignore", log, log], env: io.env });
  child.unref();
  io.out(`${run.id}\n`);
  io.err(`amphi: run ${run.id} started in the background (pid ${child.pid}); follow it with: amphi tasks wait ${run.id}\n`);
  return EXIT.ok;
}

async function confirm(io: Io, question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

// start, stop and restart of an installed app, through the host's supervisor (systemd or amphi's own).
import type { HostStateFile, InstalledApp } from "../model/index.js";
import { TaskError } from "./errors.js";
import { readHostState } from "./state-file.js";
import { control, healthGate } from "./supervisor.js";
import { DEFAULT_STOP_GRACE_MS, saveState, subjectOf, type ProcessOptions, type TaskContext, type TaskOutcome } from "./task.js";

/** Starts the app's current release unless it runs; waits for its health check. `unchanged` when it was
 * running and recorded as running. */
export async function start(ctx: TaskContext, app: string, opts: ProcessOptions = {}): Promise<TaskOutcome> {
  const { state, record } = await installed(ctx, app);
  const subject = subjectOf(record.instance);
  const out = await control(ctx, subject, app, ["start"], opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  if (out.result === "unchanged") {
    if (record.running) return { result: "unchanged", message: `${subject} is running (pid ${out.pid})` };
    await saveState(ctx, state, app, { ...record, running: true });
    return { result: "changed", message: `${subject} was running (pid ${out.pid}); recorded as running` };
  }
  await saveState(ctx, state, app, { ...record, running: true });
  const gate = await healthGate(ctx, app, out.pid ?? "", opts.healthTimeoutMs ?? 30_000);
  if (!gate.ok) throw new TaskError(ctx.session.host.host, `${subject}: started, but ${gate.cause}`);
  return { result: "changed", message: `${subject}: started ${record.release} (pid ${out.pid}, ${gate.detail})` };
}

/** Stops the app (TERM, KILL after the grace period) and records it as stopped. Works without a record
 * too, so a process amphi lost track of can still be stopped. */
export async function stop(ctx: TaskContext, app: string, opts: ProcessOptions = {}): Promise<TaskOutcome> {
  const state = await readHostState(ctx.session, ctx.env, ctx.now(), ctx.log);
  const record = state.apps[app];
  const subject = record ? subjectOf(record.instance) : app;
  const out = await control(ctx, subject, app, ["stop"], opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  if (out.result === "unchanged" && !record?.running) return { result: "unchanged", message: `${subject} is stopped` };
  if (record?.running) await saveState(ctx, state, app, { ...record, running: false });
  return { result: "changed", message: `${subject}: stopped` };
}

/** Stops and starts the app, then waits for its health check. Always `changed`: a restart is an action,
 * not a state, so it is the one task that is not idempotent. */
export async function restart(ctx: TaskContext, app: string, opts: ProcessOptions = {}): Promise<TaskOutcome> {
  const { state, record } = await installed(ctx, app);
  const subject = subjectOf(record.instance);
  const out = await control(ctx, subject, app, ["restart"], opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  if (!record.running) await saveState(ctx, state, app, { ...record, running: true });
  const gate = await healthGate(ctx, app, out.pid ?? "", opts.healthTimeoutMs ?? 30_000);
  if (!gate.ok) throw new TaskError(ctx.session.host.host, `${subject}: restarted, but ${gate.cause}`);
  return { result: "changed", message: `${subject}: restarted ${record.release} (pid ${out.pid}, ${gate.detail})` };
}

async function installed(ctx: TaskContext, app: string): Promise<{ state: HostStateFile; record: InstalledApp }> {
  const state = await readHostState(ctx.session, ctx.env, ctx.now(), ctx.log);
  const record = state.apps[app];
  if (!record) throw new TaskError(ctx.session.host.host, `${app}: not deployed here (no record in state.json)`);
  return { state, record };
}

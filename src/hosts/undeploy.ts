// The undeploy task: stop the app and remove everything amphi put on the host for it.
import { TaskError } from "./errors.js";
import { runScript, scriptError } from "./scripts.js";
import { readHostState } from "./state-file.js";
import { removeReporter } from "./reporter.js";
import { DEFAULT_STOP_GRACE_MS, markPending, saveState, seconds, subjectOf, type ProcessOptions, type TaskContext, type TaskOutcome } from "./task.js";

/** Stops the app and removes `apps/<app>/`, its log, run files, systemd unit and state record, and the
 * cached packages no remaining release was unpacked from: undeploy leaves no file of the app behind.
 * `unchanged` when there was nothing to remove. */
export async function undeploy(ctx: TaskContext, app: string, opts: Pick<ProcessOptions, "stopGraceMs"> = {}): Promise<TaskOutcome> {
  const state = await readHostState(ctx.session, ctx.env, ctx.now(), ctx.log);
  const record = state.apps[app];
  const pending = state.pending?.[app];
  const subject = record ? subjectOf(record.instance) : pending ? subjectOf(pending.instance) : app;
  const grace = seconds(opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
  const r = await runScript(ctx, "undeploy", app, [String(grace)], { timeoutMs: (2 * grace + 60) * 1000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `${subject}: undeploy failed: ${scriptError(r)}`);
  const removed = r.stdout.split("\n").flatMap((l) => (l.startsWith("removed=") ? [l.slice(8)] : []));
  // Health reporter hook (reporter.ts): the app's reporter goes with it.
  if (await removeReporter(ctx, app)) removed.push("health reporter");
  if (record || pending) {
    markPending(state, app, null);
    await saveState(ctx, state, app, null);
  }
  if (removed.length === 0 && !record && !pending) return { result: "unchanged", message: `${app} is not deployed` };
  for (const what of removed) ctx.log(`removed ${what}`);
  const stopped = removed.includes("process") ? "stopped and " : "";
  return { result: "changed", message: `${subject}: ${stopped}undeployed` };
}

// Commit statuses of a reconcile: one per app × environment (`amphi/<env>/<app>`), plus the plan status of
// PR mode (`amphi/plan/<env>`). The reporters that post them (forges, git notes) are built elsewhere;
// this is the seam the loop calls, shaped like their port: `post(sha, statuses)` resolves with one result
// per status and never rejects.
import type { Model, Plan, RunRecord } from "../model/index.js";

/** A commit status state, as forges know them. */
export type CommitState = "success" | "failure" | "pending" | "error";

/** One commit status. `description` is at most 140 characters (GitHub answers 422 beyond). */
export interface CommitStatus {
  context: string;
  state: CommitState;
  description: string;
  targetUrl?: string;
}

/** Whether one status landed; `error` names the provider, context and cause. */
export interface PostOutcome {
  context: string;
  ok: boolean;
  error: string | null;
}

/** Where commit statuses go. Optional everywhere: without one, nothing is posted. */
export interface StatusReporter {
  post(sha: string, statuses: readonly CommitStatus[]): Promise<readonly PostOutcome[]>;
}

/** Cuts a description to GitHub's 140 characters. */
export function clip(text: string): string {
  return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}

/** One status per app placed in the run's environment: failure when one of its tasks failed, error when
 * one was cancelled, success otherwise (its tasks passed their health gates, or it had nothing to change). */
export function appStatuses(model: Model, run: RunRecord): CommitStatus[] {
  return appsOf(model, run.env).map((app) => appStatus(run, app));
}

/** Apps placed in `env`, sorted. */
export function appsOf(model: Model, env: string): string[] {
  const e = model.environments.find((x) => x.name === env);
  return [...new Set((e?.placements ?? []).map((p) => p.app))].sort();
}

function appStatus(run: RunRecord, app: string): CommitStatus {
  const tasks = run.tasks.filter((t) => t.app === app);
  const failed = tasks.filter((t) => t.state === "failed");
  const cancelled = tasks.filter((t) => t.state === "cancelled");
  const context = `amphi/${run.env}/${app}`;
  if (failed.length > 0) return { context, state: "failure", description: clip(`${failed.length}/${tasks.length} tasks failed · ${failed[0]!.target}: ${failed[0]!.message}`) };
  if (cancelled.length > 0) return { context, state: "error", description: clip(`${cancelled.length}/${tasks.length} tasks cancelled · ${cancelled[0]!.message}`) };
  if (tasks.length === 0) return { context, state: "success", description: "in sync" };
  return { context, state: "success", description: clip(`${tasks.length}/${tasks.length} tasks succeeded · healthy`) };
}

/** The PR-mode status: what the plan would change. */
export function planStatus(plan: Plan, scope: string): CommitStatus {
  const s = plan.summary;
  const changes = s.create + s.update + s.delete;
  const what = changes === 0 ? "no changes" : `${s.create} to create, ${s.update} to update, ${s.delete} to delete`;
  return { context: `amphi/plan/${plan.env}`, state: "success", description: clip(`${what}${s.unknown ? ` · ${s.unknown} unknown` : ""} · ${scope}`) };
}

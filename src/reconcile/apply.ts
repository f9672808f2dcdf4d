// apply: sequences plan → tasks → execute for one environment and records the run. No decisions here.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { DesiredState, EnvironmentModel, Model, Plan, RunRecord, TaskRecord } from "../model/index.js";
import type { Clock, StateStore } from "../ports/index.js";
import { tasksForPlan } from "../plan/tasks.js";
import { secretValuesOf } from "../runtimes/secrets.js";
import { execute, type Handlers } from "./execute.js";
import { RunRecorder } from "./recorder.js";

/** A new run ID: sortable by creation time, unique across processes. */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `r-${stamp}-${randomBytes(3).toString("hex")}`;
}

/** A queued run record for `plan`. */
export function newRun(id: string, plan: Plan, source: string, now: Date): RunRecord {
  return {
    apiVersion: "amphi.dev/v1", kind: "Run", id, env: plan.env, revision: plan.revision, source, state: "queued",
    createdAt: now.toISOString(), startedAt: null, endedAt: null, summary: plan.summary, message: "", pid: process.pid, host: hostname(), tasks: [],
  };
}

/** Every secret value of the desired state (env vars marked secret: their tokens) and, with `env`, the plaintexts
 * behind them, so records can redact both. */
export function secretValues(desired: DesiredState, env?: EnvironmentModel): string[] {
  const out = new Set<string>();
  for (const r of desired.resources) for (const value of secretValuesOf(r)) out.add(value);
  for (const value of env?.secrets?.clear.values() ?? []) if (value !== "") out.add(value);
  return [...out];
}

/** What applying needs. */
export interface ApplyDeps {
  handlers: Handlers;
  store: StateStore;
  clock: Clock;
  parallel: number;
  signal: AbortSignal;
  onProgress?: (run: RunRecord, task: TaskRecord | null) => void;
}

/** Runs the plan's tasks as run `run` (already saved as queued) and returns the finished record. */
export async function applyPlan(model: Model, plan: Plan, desired: DesiredState, run: RunRecord, deps: ApplyDeps): Promise<RunRecord> {
  const env = model.environments.find((e) => e.name === plan.env);
  const recorder = new RunRecorder(run, deps.store, deps.clock, secretValues(desired, env), deps.onProgress);
  return execute(tasksForPlan(plan, desired, env?.ignoreDifferences ?? []), {
    handlers: deps.handlers,
    recorder,
    parallel: deps.parallel,
    maxUnavailable: Object.fromEntries((env?.hostGroups ?? []).map((g) => [g.name, g.maxUnavailable])),
    deps: Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn])),
    signal: deps.signal,
  });
}

// execute: tasks in, a finished run record out. Waves run one after another; inside a wave each target
// (host or cluster) runs its tasks one at a time, targets run in parallel up to `parallel`, and at most
// `maxUnavailable` hosts of one host group are touched at once (a host whose tasks only create what is not there
// yet — see TaskSpec.fresh — takes nothing down and does not count). Makes no decision about *what* to do.
import { setMaxListeners } from "node:events";
import type { RunRecord, TaskRecord } from "../model/index.js";
import type { TaskSpec } from "../plan/tasks.js";
import type { TaskHandler } from "../ports/tasks.js";
import { handlerOf, needsOwnApp, runsWhenBlocked, type HandlerName } from "../runtimes/index.js";
import { RunRecorder } from "./recorder.js";
import { dependents } from "./dependents.js";

/** The handlers of an apply, by name; each runtime's task hooks name the one that runs its tasks. A kind
 * without a handler fails its tasks with a clear message. */
export type Handlers = Partial<Record<HandlerName, TaskHandler>>;

/** Inputs of execute besides the tasks. */
export interface ExecuteOptions {
  handlers: Handlers;
  recorder: RunRecorder;
  /** Bound on targets worked on at once (default 10). */
  parallel: number;
  /** Per host group: how many of its hosts may be worked on at once. */
  maxUnavailable: Record<string, number>;
  /** app → dependsOn, to cancel what depends on a failed app. */
  deps: Record<string, string[]>;
  signal: AbortSignal;
}

/** Runs every task of the recorder's run and returns the final run record. Never throws for a task failure. */
export async function execute(specs: TaskSpec[], opts: ExecuteOptions): Promise<RunRecord> {
  const { recorder } = opts;
  // Every running task (and each of its commands) listens on the one run signal: not a leak.
  setMaxListeners(0, opts.signal);
  const tasks = recorder.addTasks(specs);
  recorder.start();
  const failedApps = new Set<string>();
  const unfinished = new Map<string, string>(); // app → a task of it that did not succeed
  for (const wave of [...new Set(tasks.map((t) => t.wave))].sort((a, b) => a - b)) {
    const inWave = tasks.filter((t) => t.wave === wave);
    cancelBlocked(inWave, failedApps, opts);
    cancelWithoutOwnApp(inWave, unfinished, opts);
    await runWave(inWave, opts);
    for (const t of inWave) if (t.state === "failed" && t.app) failedApps.add(t.app);
    for (const t of inWave) if ((t.state === "failed" || t.state === "cancelled") && t.app && !unfinished.has(t.app)) unfinished.set(t.app, `${t.spec.kind} of ${t.app} on ${t.target} ${t.state}`);
  }
  return recorder.finish(opts.signal.aborted);
}

// Tasks of apps that (transitively) depend on a failed app do not run: their dependency is not there.
function cancelBlocked(tasks: (TaskRecord & { spec: TaskSpec })[], failedApps: Set<string>, opts: ExecuteOptions): void {
  if (failedApps.size === 0) return;
  const blocked = dependents(opts.deps, failedApps);
  for (const t of tasks) {
    if (t.app && blocked.has(t.app) && !runsWhenBlocked(t.spec.kind)) {
      opts.recorder.update(t, { state: "cancelled", message: `not run: dependency ${blocked.get(t.app)} failed` });
    }
  }
}

// Tasks that need their own app's earlier tasks (a traffic policy after the deploy it sends calls to) do not run
// when one of those did not succeed.
function cancelWithoutOwnApp(tasks: (TaskRecord & { spec: TaskSpec })[], unfinished: Map<string, string>, opts: ExecuteOptions): void {
  for (const t of tasks) {
    const why = t.app ? unfinished.get(t.app) : undefined;
    if (why && t.state === "queued" && needsOwnApp(t.spec.kind)) opts.recorder.update(t, { state: "cancelled", message: `not run: ${why}` });
  }
}

async function runWave(tasks: (TaskRecord & { spec: TaskSpec })[], opts: ExecuteOptions): Promise<void> {
  const queues = new Map<string, (TaskRecord & { spec: TaskSpec })[]>();
  for (const t of tasks) {
    if (t.state !== "queued") continue;
    const queue = queues.get(t.target);
    if (queue) queue.push(t);
    else queues.set(t.target, [t]);
  }
  const pending = [...queues.keys()];
  const active = new Map<string, number>(); // group → targets running
  const halted = new Map<string, string>(); // group → why its rollout stopped
  let running = 0;
  await new Promise<void>((done) => {
    const pump = (): void => {
      for (let i = 0; i < pending.length && running < Math.max(1, opts.parallel); ) {
        const target = pending[i]!;
        const group = groupOf(target);
        if (halted.has(group) || opts.signal.aborted) {
          pending.splice(i, 1);
          for (const t of queues.get(target)!) opts.recorder.update(t, { state: "cancelled", message: halted.get(group) ?? "cancelled: run interrupted" });
          continue;
        }
        const counts = !queues.get(target)!.every((t) => t.spec.fresh);
        if (counts && (active.get(group) ?? 0) >= limitOf(group, opts)) { i++; continue; }
        pending.splice(i, 1);
        running++;
        if (counts) active.set(group, (active.get(group) ?? 0) + 1);
        void runTarget(queues.get(target)!, opts).then((haltReason) => {
          running--;
          if (counts) active.set(group, active.get(group)! - 1);
          if (haltReason && !halted.has(group)) halted.set(group, `not run: rollout of ${group} stopped after ${haltReason}`);
          pump();
        });
      }
      if (running === 0 && pending.length === 0) done();
    };
    pump();
  });
}

// Runs one target's tasks in order; returns a reason to halt the group's rollout, or null.
async function runTarget(tasks: (TaskRecord & { spec: TaskSpec })[], opts: ExecuteOptions): Promise<string | null> {
  let halt: string | null = null;
  const failedHere = new Map<string, string>(); // app → which of its tasks failed on this target
  for (const t of tasks) {
    if (opts.signal.aborted) {
      opts.recorder.update(t, { state: "cancelled", message: "cancelled: run interrupted" });
      continue;
    }
    // the same rule within a target's queue: no registration of an instance whose deploy just failed
    const why = t.app ? failedHere.get(t.app) : undefined;
    if (why && needsOwnApp(t.spec.kind)) {
      opts.recorder.update(t, { state: "cancelled", message: `not run: ${why}` });
      continue;
    }
    const name = handlerOf(t.spec.kind);
    const handler = name && opts.handlers[name];
    if (!handler) {
      opts.recorder.update(t, { state: "failed", message: `${t.target}: no ${name ?? "task"} adapter configured for ${t.spec.kind} tasks` });
      continue;
    }
    opts.recorder.update(t, { state: "running" });
    try {
      const out = await handler.run(t, { signal: opts.signal, log: (line) => opts.recorder.log(t, line) });
      opts.recorder.update(t, { state: "succeeded", result: out.result, message: out.message });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const state = opts.signal.aborted ? "cancelled" : "failed";
      opts.recorder.update(t, { state, message: err.message });
      if (t.app && !failedHere.has(t.app)) failedHere.set(t.app, `${t.spec.kind} of ${t.app} on ${t.target} ${state}`);
      if (err.name === "TaskError" && !halt) halt = `${t.target} failed ${t.spec.kind}${t.app ? ` ${t.app}` : ""}`;
    }
  }
  return halt;
}

/** Host group of a target (`group/host` → `group`); a cluster is its own group. */
function groupOf(target: string): string {
  const slash = target.indexOf("/");
  return slash < 0 ? `cluster:${target}` : target.slice(0, slash);
}

// Hosts: the group's maxUnavailable. Clusters: one kubectl batch at a time per cluster.
function limitOf(group: string, opts: ExecuteOptions): number {
  if (group.startsWith("cluster:")) return 1;
  return Math.max(1, opts.maxUnavailable[group] ?? 1);
}

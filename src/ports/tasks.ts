// The TaskHandler port: how the loop has one task run on its target (a host, a cluster, the registry).
// Adapters implement it (hosts/handler.ts, adapters/kubectl, adapters/consul); reconcile/execute.ts calls it.
import type { TaskRecord } from "../model/index.js";
import type { TaskSpec } from "../plan/tasks.js";

/** How a task ended when it did not throw: what every handler and every host task answers. */
export interface TaskOutcome {
  result: "changed" | "unchanged";
  message: string;
}

/** What a handler gets besides its task: the run's signal and where its output lines go. */
export interface TaskRunContext {
  signal: AbortSignal;
  log(line: string): void;
}

/** Runs one task on its target. Throws on failure; an error named `TaskError` means the target refused or
 * failed the change itself (halts its group's rollout), anything else (e.g. TransportError) means the
 * target could not be reached or talked to (fails only that target's tasks). */
export interface TaskHandler {
  run(task: TaskRecord & { spec: TaskSpec }, ctx: TaskRunContext): Promise<TaskOutcome>;
}

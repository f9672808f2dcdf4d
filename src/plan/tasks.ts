// Plan + desired state → the tasks an apply runs. Pure.
// One task per step for runtimes with a `payload` hook (a host does one thing at a time); one task per
// target, wave and task kind for runtimes with a `batch` hook (kubectl applies a batch at once). Order
// follows the plan's.
import type { DesiredState, IgnoreRule, Plan, PlanStep, Runtime, TaskKind } from "../model/index.js";
import { hooksOf } from "../runtimes/index.js";
import type { TaskPayload } from "../runtimes/tasks.js";
import type { BatchHooks } from "../runtimes/types.js";

export type { TaskPayload } from "../runtimes/tasks.js";

/** A task before it has an ID. `target` is `<hostGroup>/<host>` or a cluster name. */
export interface TaskSpec {
  kind: TaskKind;
  target: string;
  app: string | null;
  wave: number;
  keys: string[];
  payload: TaskPayload;
  /** Every step of the task creates an app instance on a host, or its registration, that is not there yet:
   * running it takes nothing down, so it does not count against the host group's `maxUnavailable` (a first
   * deploy reaches all of a group's hosts at once, bounded only by `--parallel`). */
  fresh?: boolean;
}

/** Runtimes whose creates touch nothing already running (a sidecar or capture rules would change the path of
 * the host's other apps' traffic, so they count even when new). */
const FRESH_WHEN_CREATED: ReadonlySet<Runtime> = new Set<Runtime>(["vm", "consul"]);

/** The tasks for a plan, in plan order (batches at the position of their first step). `ignore` are the
 * environment's ignore rules, handed to the runtimes that batch (Kubernetes leaves their fields out of
 * updates). */
export function tasksForPlan(plan: Plan, desired: DesiredState, ignore: readonly IgnoreRule[] = []): TaskSpec[] {
  const byKey = new Map(desired.resources.map((r) => [r.key, r]));
  const out: TaskSpec[] = [];
  const batches = new Map<string, { task: TaskSpec; apps: Set<string> }>();
  for (const step of plan.steps) {
    const tasks = hooksOf(step.runtime).tasks;
    const kind = tasks.kind(step);
    if (tasks.payload) {
      const fresh = step.op === "create" && FRESH_WHEN_CREATED.has(step.runtime);
      out.push({ kind, target: step.target, app: step.app, wave: step.wave, keys: [step.key], payload: tasks.payload(step, byKey.get(step.key)), ...(fresh ? { fresh } : {}) });
    } else if (tasks.batch) {
      const batch = batchOf(out, batches, step, kind, tasks.batch);
      tasks.batch.add(batch.task.payload, step, byKey.get(step.key), ignore);
      batch.task.keys.push(step.key);
      // A batch spans apps; name the app only when the batch has one.
      if (step.app) batch.apps.add(step.app);
      batch.task.app = batch.apps.size === 1 ? [...batch.apps][0]! : null;
    } else {
      throw new Error(`plan step ${step.key}: runtime ${step.runtime} has neither a payload nor a batch hook`);
    }
  }
  return out;
}

// The batch of `step`'s target, wave and task kind; a new one is started (and its task added) at its first step.
function batchOf(
  out: TaskSpec[],
  batches: Map<string, { task: TaskSpec; apps: Set<string> }>,
  step: PlanStep,
  kind: TaskKind,
  hooks: BatchHooks<Runtime>,
): { task: TaskSpec; apps: Set<string> } {
  const id = `${step.target}|${step.wave}|${kind}`;
  let batch = batches.get(id);
  if (!batch) {
    batch = { task: { kind, target: step.target, app: null, wave: step.wave, keys: [], payload: hooks.start(kind) }, apps: new Set() };
    batches.set(id, batch);
    out.push(batch.task);
  }
  return batch;
}

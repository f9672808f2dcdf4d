// Plan + desired state → the tasks an apply runs. Pure.
// One task per host step (a host does one thing at a time), one task per cluster, wave and direction
// for Kubernetes (kubectl applies a batch at once). Order follows the plan's.
import type { DesiredState, IgnoreRule, Plan, PlanStep, Resource, TaskKind } from "../model/index.js";
import { hooksOf } from "../runtimes/index.js";
import type { TaskPayload } from "../runtimes/tasks.js";
import { withoutIgnored } from "./ignore.js";

export type { TaskPayload } from "../runtimes/tasks.js";

/** A task before it has an ID. `target` is `<hostGroup>/<host>` or a cluster name. */
export interface TaskSpec {
  kind: TaskKind;
  target: string;
  app: string | null;
  wave: number;
  keys: string[];
  payload: TaskPayload;
}

/** The tasks for a plan, in plan order (k8s batches at the position of their first step). `ignore` are the
 * environment's ignore rules: their fields are not sent for objects that already exist. */
export function tasksForPlan(plan: Plan, desired: DesiredState, ignore: readonly IgnoreRule[] = []): TaskSpec[] {
  const byKey = new Map(desired.resources.map((r) => [r.key, r]));
  const out: TaskSpec[] = [];
  const batches = new Map<string, { task: TaskSpec; apps: Set<string> }>();
  for (const step of plan.steps) {
    const tasks = hooksOf(step.runtime).tasks;
    if (!tasks.payload) {
      const r = byKey.get(step.key);
      addToBatch(out, batches, step, r && r.runtime === "k8s" && step.op === "update" ? { ...r, object: withoutIgnored(r.object, r.app, ignore) } : r);
      continue;
    }
    out.push({ kind: tasks.kind(step), target: step.target, app: step.app, wave: step.wave, keys: [step.key], payload: tasks.payload(step, byKey.get(step.key)) });
  }
  return out;
}

function addToBatch(out: TaskSpec[], batches: Map<string, { task: TaskSpec; apps: Set<string> }>, step: PlanStep, desired: Resource | undefined): void {
  const kind = hooksOf(step.runtime).tasks.kind(step);
  const id = `${step.target}|${step.wave}|${kind}`;
  let batch = batches.get(id);
  if (!batch) {
    const payload: TaskPayload = kind === "k8s-apply" ? { kind, objects: [] } : { kind: "k8s-delete", keys: [], objects: [] };
    batch = { task: { kind, target: step.target, app: null, wave: step.wave, keys: [], payload }, apps: new Set() };
    batches.set(id, batch);
    out.push(batch.task);
  }
  const { task, apps } = batch;
  task.keys.push(step.key);
  if (task.payload.kind === "k8s-apply") {
    if (!desired || desired.runtime !== "k8s") throw new Error(`plan step ${step.key} has no desired Kubernetes object`);
    task.payload.objects.push(desired);
  } else if (task.payload.kind === "k8s-delete") {
    task.payload.keys.push(step.key);
    task.payload.objects.push(step.object);
  }
  // A batch spans apps; name the app only when the batch has one.
  if (step.app) apps.add(step.app);
  task.app = apps.size === 1 ? [...apps][0]! : null;
}

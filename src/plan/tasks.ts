// Plan + desired state → the tasks an apply runs. Pure.
// One task per host step (a host does one thing at a time), one task per cluster, wave and direction
// for Kubernetes (kubectl applies a batch at once). Order follows the plan's.
import type { CaptureRules, DesiredState, HostInstance, IgnoreRule, Plan, PlanStep, Registration, Resource, TaskKind } from "../model/index.js";
import { withoutIgnored } from "./ignore.js";

/** What a task needs to run, derived from the plan steps it carries out. */
export type TaskPayload =
  | { kind: "deploy"; instance: HostInstance }
  | { kind: "start"; app: string }
  | { kind: "undeploy"; app: string }
  | { kind: "capture"; rules: CaptureRules }
  | { kind: "uncapture" }
  | { kind: "register"; registration: Registration }
  | { kind: "deregister"; id: string; service: string }
  | { kind: "k8s-apply"; objects: Extract<Resource, { runtime: "k8s" }>[] }
  | { kind: "k8s-delete"; keys: string[]; objects: string[] };

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
    if (step.runtime === "k8s") {
      const r = byKey.get(step.key);
      addToBatch(out, batches, step, r && r.runtime === "k8s" && step.op === "update" ? { ...r, object: withoutIgnored(r.object, r.app, ignore) } : r);
      continue;
    }
    out.push({ kind: kindOf(step), target: step.target, app: step.app, wave: step.wave, keys: [step.key], payload: payloadOf(step, byKey.get(step.key)) });
  }
  return out;
}

function kindOf(step: PlanStep): TaskKind {
  const del = step.op === "delete";
  switch (step.runtime) {
    case "vm":
      if (del) return "undeploy";
      // Only the process is off: start it, do not redeploy what is already there.
      return step.op === "update" && step.fields.every((f) => f.path === "process") ? "start" : "deploy";
    case "capture":
      return del ? "uncapture" : "capture";
    case "consul":
      return del ? "deregister" : "register";
    case "k8s":
      return del ? "k8s-delete" : "k8s-apply";
  }
}

function payloadOf(step: PlanStep, desired: Resource | undefined): TaskPayload {
  const kind = kindOf(step);
  if (kind === "undeploy" || kind === "start") return { kind, app: step.app ?? step.object };
  if (kind === "uncapture") return { kind };
  if (kind === "deregister") return { kind, id: step.object, service: step.key.split("/")[1] ?? "" };
  if (!desired) throw new Error(`plan step ${step.key} has no desired resource`);
  if (kind === "deploy" && desired.runtime === "vm") return { kind, instance: desired.instance };
  if (kind === "capture" && desired.runtime === "capture") return { kind, rules: desired.capture };
  if (kind === "register" && desired.runtime === "consul") return { kind, registration: desired.registration };
  throw new Error(`plan step ${step.key}: ${kind} does not fit a ${desired.runtime} resource`);
}

function addToBatch(out: TaskSpec[], batches: Map<string, { task: TaskSpec; apps: Set<string> }>, step: PlanStep, desired: Resource | undefined): void {
  const kind = kindOf(step);
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

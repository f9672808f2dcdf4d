// Task payloads of every runtime (each defines its own in its folder), and the check a payload hook makes
// on the desired resource it is built from.
import type { PlanStep, Resource, Runtime, TaskKind } from "../model/index.js";
import type { CapturePayload } from "./capture/payload.js";
import type { K8sPayload } from "./k8s/payload.js";
import type { RegistryPayload } from "./registry/payload.js";
import type { VmPayload } from "./vm/payload.js";

/** What a task needs to run, derived from the plan steps it carries out. */
export type TaskPayload = VmPayload | CapturePayload | RegistryPayload | K8sPayload;

/** The desired resource a `kind` task of `runtime` is built from; throws naming the step when there is none. */
export function desiredFor<R extends Runtime>(runtime: R, step: PlanStep, kind: TaskKind, desired: Resource | undefined): Extract<Resource, { runtime: R }> {
  if (!desired) throw new Error(`plan step ${step.key} has no desired resource`);
  if (desired.runtime !== runtime) throw new Error(`plan step ${step.key}: ${kind} does not fit a ${desired.runtime} resource`);
  return desired as Extract<Resource, { runtime: R }>;
}

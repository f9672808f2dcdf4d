// Task payloads of every runtime (each defines its own in its folder and adds it to the model's
// RuntimeTaskPayloads), and the check a payload hook makes on the desired resource it is built from.
import type { PlanStep, Resource, Runtime, RuntimeTaskPayloads, TaskKind } from "../model/index.js";

/** What a task needs to run, derived from the plan steps it carries out: one runtime's payload. */
export type TaskPayload = RuntimeTaskPayloads[keyof RuntimeTaskPayloads];

/** The desired resource a `kind` task of `runtime` is built from; throws naming the step when there is none. */
export function desiredFor<R extends Runtime>(runtime: R, step: PlanStep, kind: TaskKind, desired: Resource | undefined): Extract<Resource, { runtime: R }> {
  if (!desired) throw new Error(`plan step ${step.key} has no desired resource`);
  if (desired.runtime !== runtime) throw new Error(`plan step ${step.key}: ${kind} does not fit a ${desired.runtime} resource`);
  return desired as Extract<Resource, { runtime: R }>;
}

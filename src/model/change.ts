// Changes (desired × actual) and the plan built from them.
import type { ActualResource, Json, Resource, ResourceKey, Runtime } from "./resources.js";

/** One field that differs, by a readable path: `spec.template.spec.containers[name=app].image`.
 * Values of secret fields are replaced by `"(secret)"` before they reach a change. */
export interface FieldChange {
  path: string;
  from: Json | undefined;
  to: Json | undefined;
}

/** A difference between desired and actual for one key. The op is derived from which side exists. */
export type Change =
  | { op: "create"; key: ResourceKey; desired: Resource }
  | { op: "update"; key: ResourceKey; desired: Resource; actual: ActualResource; fields: FieldChange[] }
  | { op: "delete"; key: ResourceKey; actual: ActualResource };

/** A resource whose actual state is unknown because its target could not be read. */
export interface UnknownItem {
  key: ResourceKey;
  runtime: Runtime;
  target: string;
  app: string | null;
  reason: string;
}

/** The result of diffing: changes, plus what was equal and what could not be compared. */
export interface DiffResult {
  env: string;
  changes: Change[];
  unchanged: ResourceKey[];
  unknown: UnknownItem[];
}

export type StepOp = Change["op"];

/** One ordered step of a plan. `object` names the thing inside its target, e.g. `Deployment/apps/user`. */
export interface PlanStep {
  wave: number;
  runtime: Runtime;
  target: string;
  app: string | null;
  op: StepOp;
  key: ResourceKey;
  object: string;
  fields: FieldChange[];
}

/** An ordered plan for one environment: waves from the dependsOn DAG, then runtime order, then key. */
export interface Plan {
  env: string;
  revision: string | null;
  steps: PlanStep[];
  unknown: UnknownItem[];
  summary: { create: number; update: number; delete: number; unchanged: number; unknown: number };
}

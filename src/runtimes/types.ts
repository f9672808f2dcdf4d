// What one runtime supplies to the pure stages: where its resources live and how they are named (diff,
// plan), its compare rules (diff) and its report row (report).
// Each runtime has one folder under src/runtimes/ that exports a RuntimeHooks; src/runtimes/index.ts lists
// them, and the stages dispatch through that list instead of branching on the runtime's name.
import type { ActualResource, FieldChange, HealthResult, IgnoreRule, PlanStep, Resource, Runtime, TaskKind } from "../model/index.js";
import type { TaskPayload } from "./tasks.js";

/** The resource of runtime `R`. */
export type ResourceOf<R extends Runtime> = Extract<Resource, { runtime: R }>;
/** The actual resource of runtime `R`. */
export type ActualOf<R extends Runtime> = ResourceOf<R> & ActualResource;
/** A plan step on a resource of runtime `R`. */
export type StepOf<R extends Runtime> = PlanStep & { runtime: R };

/** Desired and/or actual side of one resource (at least one is set). */
export interface Sides<R extends Runtime> {
  desired?: ResourceOf<R>;
  actual?: ActualOf<R>;
}

/** How one runtime's resources appear in the drift report. */
export interface ReportHooks<R extends Runtime> {
  /** The kind of target the resource's row is on (the report has k8s rows and vm rows). */
  row: "k8s" | "vm";
  /** Detail of a `missing` item (the step creates the resource). */
  missing(step: StepOf<R>): string;
  /** Detail of an `unexpected` item (the step deletes the resource). */
  unexpected(step: StepOf<R>): string;
  /** A field change this runtime reports as its own item kind (e.g. a stopped process), or null for a
   * plain `field` item. */
  fieldItem?(field: FieldChange): { kind: "process"; detail: string } | null;
  /** The registry-drift fact (`<kind>:<id>`) that already names this item, or null; the report then
   * leaves the item to registry drift (one item per fact). `path` is null for creates and deletes. */
  coveredBy?(op: "create" | "delete" | "update", object: string, path: string | null): string | null;
  /** Whether the resource is a workload, whose health message says most about its row. */
  workload(resource: ResourceOf<R>): boolean;
  /** Health of one resource, or null when it says nothing about health. */
  health(sides: Sides<R>, ctx: { now: Date; progressTimeoutMs: number }): HealthResult | null;
}

/** Everything one runtime supplies to the pure stages (more hooks follow: render, tasks, reader). */
export interface RuntimeHooks<R extends Runtime> {
  runtime: R;
  /** Where its resources live: in a cluster, on a host (one unreachable host hides every host runtime's
   * resources there), or in the environment's one instance (which hides all of them, whatever its target
   * names). `noun` names such a target in "… unreachable" reasons. */
  target: { place: "cluster" | "host" | "environment"; noun: string };
  /** What a step touches inside its target (plans and reports name it so). */
  objectName(resource: ResourceOf<R>): string;
  /** The fields in which `actual` differs from `desired` (same key, same runtime); empty: unchanged. */
  compare(desired: ResourceOf<R>, actual: ActualOf<R>, ignore: readonly IgnoreRule[]): FieldChange[];
  report: ReportHooks<R>;
  tasks: TaskHooks<R>;
  actualFile: ActualFileHooks;
  plan?: PlanHooks;
}

/** Where this runtime's steps go in a plan, beyond wave and runtime order. */
export interface PlanHooks {
  /** Steps go in the wave of the latest step of runtime `waveOf` on the same target (wave 1 when none). */
  waveOf?: Runtime;
  /** Order of two of its steps in one wave (before the key decides; reversed among deletes). */
  compareSteps?(a: PlanStep, b: PlanStep): number;
}

/** How an `--actual` file holds this runtime's resources (diff/actual-file.ts checks them by hand). */
export interface ActualFileHooks {
  /** The entry field holding the payload (`object`, `instance`, …). */
  payload: string;
  /** Set when the entry's `app` must be null: the reason, as the error states it. */
  nullApp?: string;
  /** Checks the payload fields the diff and plan read; `need` reports one that is not `what`. */
  check(payload: Record<string, unknown>, need: (path: string, ok: boolean, what: string) => void): void;
}

/** Which handler of an apply runs a runtime's tasks (reconcile/execute.ts's `Handlers` has one of each):
 * `hosts` runs every host runtime's tasks through the host's one session. */
export type HandlerName = "hosts" | "cluster" | "registry";

/** The tasks that carry out this runtime's plan steps. */
export interface TaskHooks<R extends Runtime> {
  /** Every kind of task the runtime has (no other runtime has them), and the handler that runs them. */
  kinds: readonly TaskKind[];
  handler: HandlerName;
  /** The kind of task that carries out `step`. */
  kind(step: StepOf<R>): TaskKind;
  /** The payload of the one task of `step` (`desired`: the step's desired resource, if any). Absent: the
   * runtime's steps are batched per target, wave and kind (Kubernetes; plan/tasks.ts builds the batch). */
  payload?(step: StepOf<R>, desired: Resource | undefined): TaskPayload;
}

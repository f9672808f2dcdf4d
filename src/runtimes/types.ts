// What one runtime supplies to the pure stages: its resources (render) and how rendered files show them,
// where they live and how they are named (diff, plan), its compare rules (diff), its tasks (plan) and its
// report row (report).
// Each runtime has one folder under src/runtimes/ that exports a RuntimeHooks; src/runtimes/index.ts lists
// them, and the stages dispatch through that list instead of branching on the runtime's name.
import type {
  ActualResource,
  AppModel,
  ClusterPlacement,
  EnvironmentModel,
  FieldChange,
  HealthResult,
  HostInstance,
  IgnoreRule,
  PlanStep,
  Registration,
  Resource,
  Runtime,
  TaskKind,
} from "../model/index.js";
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
  /** The runtime whose row holds the resource (its own, or another's on the same target: capture rules and
   * registrations are in their host's `vm` row). */
  row: Runtime;
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
  /** The version a live workload runs (what its target shows, not what is desired), or null when the resource
   * names none; absent: the runtime's resources name no version. */
  version?(actual: ActualOf<R>): string | null;
}

/** Everything one runtime supplies to the pure stages (more hooks follow: reader, handler). */
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
  /** Its desired resources, from the placements render expands once. */
  render: RenderHook<R>;
  /** Which file `amphi render --out` writes its resources to, and how they appear there. */
  files: FilesHooks<R>;
  /** Absent: its resources carry no secret values. */
  secrets?: SecretHooks<R>;
  /** Set on the runtime whose resources are the environment's service registrations (registry drift). */
  registry?: RegistryHooks<R>;
}

/** Where this runtime's steps go in a plan, beyond wave and runtime order. */
export interface PlanHooks {
  /** Steps go in the wave of the latest step of runtime `waveOf` on the same target (wave 1 when none). */
  waveOf?: Runtime;
  /** Steps go one wave after the latest step of another runtime of their app (their app's wave when none):
   * what the step configures (e.g. traffic policy) reaches the instances only once they are deployed. */
  afterApp?: boolean;
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
  /** The `observed` fields an entry may give, with their allowed values (an entry of any runtime may give
   * those of every runtime, as before runtimes had folders). */
  observed?: Record<string, readonly string[]>;
}

/** Which handler of an apply runs a runtime's tasks (reconcile/execute.ts's `Handlers` has one per name):
 * `hosts` runs every host runtime's tasks through the host's one session; `cluster` and `registry` are
 * kubectl's and Consul's. A new runtime with its own handler names a new one. */
export type HandlerName = string;

/** The tasks that carry out this runtime's plan steps. */
export interface TaskHooks<R extends Runtime> {
  /** Every kind of task the runtime has (no other runtime has them), and the handler that runs them. */
  kinds: readonly TaskKind[];
  handler: HandlerName;
  /** The kind of task that carries out `step`. */
  kind(step: StepOf<R>): TaskKind;
  /** Kinds that run even when a dependency of their app failed in an earlier wave (removing an app needs
   * nothing it depends on); the others are cancelled then. */
  runWhenBlocked?: readonly TaskKind[];
  /** Its tasks do not run when a task of their own app did not succeed in an earlier wave, or failed before them
   * on the same target (a traffic policy is not pushed to instances whose deploy failed or was not run; an
   * instance whose deploy failed is not registered); the others depend only on other apps. */
  needsOwnApp?: boolean;
  /** The payload of the one task of `step` (`desired`: the step's desired resource, if any). Absent: the
   * runtime's steps are batched per target, wave and kind as `batch` says (one of the two is set). */
  payload?(step: StepOf<R>, desired: Resource | undefined): TaskPayload;
  /** How its steps are batched when there is no `payload` hook (Kubernetes: kubectl applies a batch at once). */
  batch?: BatchHooks<R>;
}

// ---- tasks.batch: steps carried out together (plan/tasks.ts) ----

/** How a runtime without a `payload` hook batches its steps: one task per target, wave and task kind, its
 * payload started empty and filled step by step in plan order (plan/tasks.ts keeps the batch's keys and app). */
export interface BatchHooks<R extends Runtime> {
  /** The payload of a batch of `kind` tasks before any step is added. */
  start(kind: TaskKind): TaskPayload;
  /** Adds `step` to the batch's `payload`. `desired`: the step's desired resource, if any; `ignore`: the
   * environment's ignore rules. Throws naming the step when it cannot be carried out. */
  add(payload: TaskPayload, step: StepOf<R>, desired: Resource | undefined, ignore: readonly IgnoreRule[]): void;
}

// ---- render: desired resources from the model (src/render) ----

/** One app instance on a host, with the app it comes from. */
export interface PlacedInstance {
  app: AppModel;
  instance: HostInstance;
}

/** Everything on one host: its target (`<hostGroup>/<host>`) and its instances, in placement order. */
export interface HostPlacements {
  target: string;
  hostGroup: string;
  host: string;
  instances: PlacedInstance[];
}

/** What render hands every runtime: one environment with its placements expanded once. */
export interface RenderContext {
  env: EnvironmentModel;
  /** Cluster placements (each on a known cluster) with their apps, in placement order. */
  clusters: { app: AppModel; placement: ClusterPlacement }[];
  /** The hosts with at least one instance, in the order of their first placement. */
  hosts: HostPlacements[];
}

/** The desired resources of this runtime in one environment (any order: render sorts them by key). */
export type RenderHook<R extends Runtime> = (ctx: RenderContext) => ResourceOf<R>[];

// ---- files: how `amphi render --out` writes the resources (src/render/files.ts) ----

/** Where and how this runtime's resources appear in rendered files. */
export type FilesHooks<R extends Runtime> = ManifestFileHooks<R> | HostGroupFileHooks<R> | EnvironmentFileHooks<R>;

/** Kubernetes manifests: `clusters/<file>.yaml`, one YAML document per resource, that `kubectl apply -f` reads. */
export interface ManifestFileHooks<R extends Runtime> {
  layout: "clusters";
  /** The file's name (the cluster's). */
  file(resource: ResourceOf<R>): string;
  /** The document written for the resource. */
  document(resource: ResourceOf<R>): Record<string, unknown>;
  /** Documents go in rank order, key order among equal ranks. */
  rank(resource: ResourceOf<R>): number;
}

/** amphi's own document per host group, `hostgroups/<file>.yaml` (not a Kubernetes object): the resource is
 * one entry of the list `section`. Every host-group runtime's section is written, empty or not, in the
 * order of the runtime list. */
export interface HostGroupFileHooks<R extends Runtime> {
  layout: "hostgroups";
  /** The file's name (the host group's). */
  file(resource: ResourceOf<R>): string;
  section: string;
  /** The entry written for the resource (secrets redacted: rendered files get committed and archived). */
  entry(resource: ResourceOf<R>): unknown;
}

/** amphi's own document for the whole environment, `<folder>/<env>.yaml` (not a Kubernetes object): the
 * resource is one entry of the list `section` (e.g. the traffic policies the mesh's control plane serves). */
export interface EnvironmentFileHooks<R extends Runtime> {
  layout: "environment";
  /** The folder the file goes in; the file is named after the environment. */
  folder: string;
  /** The document's `kind` (apiVersion `amphi.dev/v1`). */
  kind: string;
  section: string;
  /** The entry written for the resource. */
  entry(resource: ResourceOf<R>): unknown;
}

/** The secret values a runtime's resources carry in clear: masked by the rules of its compare (plans mask
 * them there) in output that is not a plan, and kept out of run records. */
export interface SecretHooks<R extends Runtime> {
  /** `resource` with every secret value replaced by `(secret)` (compare/redact.ts REDACTED). */
  mask(resource: ResourceOf<R>): ResourceOf<R>;
  /** The secret values `resource` holds, so that task output recorded in runs can redact them. Absent:
   * none that reach task output. */
  values?(resource: ResourceOf<R>): string[];
}

/** How registry drift (health/registry.ts) and the health watch find the service registrations among the
 * resources: the resources of the runtime that has these hooks are the registrations. */
export interface RegistryHooks<R extends Runtime> {
  /** The registration `resource` is. */
  registration(resource: ResourceOf<R>): Registration;
  /** The state of its check as observed (undefined: not observed). */
  check(actual: ActualOf<R>): "passing" | "warning" | "critical" | undefined;
}

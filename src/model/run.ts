// Runs and tasks: the async model of apply. A run applies one plan to one environment; each host or
// cluster step becomes a task with an ID, a state, timings and an output tail. Both are persisted.

/** Task states in the order a task moves through them; the last four are final. `abandoned`: its runner process
 * died while it ran (found so later by `amphi tasks`; see reconcile/abandoned.ts). */
export const TASK_STATES = ["queued", "running", "succeeded", "failed", "cancelled", "abandoned"] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** Run states; a run is `failed` when any task failed (partial results are kept). */
export type RunState = TaskState;

/** The task payloads of each runtime, by the runtime's name. Empty here: each runtime folder adds its own
 * (src/runtimes/<name>/payload.ts, by module augmentation), so the model names no task of a runtime. A
 * payload's `kind` is the kind of its task; src/runtimes/tasks.ts names their union TaskPayload. */
export interface RuntimeTaskPayloads {}

/** What a task does on its target (`deploy`, `k8s-apply`, `register`, …): the `kind` of a runtime's payload. */
export type TaskKind = RuntimeTaskPayloads[keyof RuntimeTaskPayloads]["kind"];

/** One unit of work on one target (a host or a cluster). */
export interface TaskRecord {
  id: string;
  runId: string;
  kind: TaskKind;
  /** `<hostGroup>/<host>` or a cluster name. */
  target: string;
  app: string | null;
  wave: number;
  /** The plan step keys this task carries out. */
  keys: string[];
  state: TaskState;
  /** For succeeded tasks: whether anything changed on the target. */
  result: "changed" | "unchanged" | null;
  /** One line: what happened, or the error naming the subject and cause. */
  message: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** The last lines the task printed (secrets never reach it). */
  output: string[];
}

/** One apply of one environment. */
export interface RunRecord {
  apiVersion: "amphi.dev/v1";
  kind: "Run";
  id: string;
  env: string;
  revision: string | null;
  /** Where the config came from (directory or repo@rev). */
  source: string;
  state: RunState;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  summary: { create: number; update: number; delete: number; unchanged: number; unknown: number };
  message: string;
  /** Process that runs it, so a dead runner can be told from a slow one (null: an `--async` run its runner has
   * not picked up yet). */
  pid: number | null;
  /** Machine that process runs on (its hostname): a pid is only checked there. Absent in records written
   * before it was recorded (they came from this machine's `.amphi`). */
  host?: string | null;
  tasks: TaskRecord[];
}

/** Whether a state is final. */
export function isFinal(state: TaskState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled" || state === "abandoned";
}

/** Orders runs newest first: by creation time (milliseconds), then by ID. Why not the ID alone: IDs
 * carry the second, and two runs of one second would list in the order of their random suffixes. */
export function newestFirst(a: RunRecord, b: RunRecord): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

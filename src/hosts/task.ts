// What every host task gets and returns. Tasks run through one HostSession, are idempotent (a second
// run reports `unchanged` and touches nothing) and throw TaskError naming the app and the cause.
import type { HostInstance, HostStateFile, InstalledApp, PendingDeploy } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import { SAFE_VERSION } from "../config/patterns.js";
import { TaskError } from "./errors.js";
import { writeHostState } from "./state-file.js";

/** The context of one task on one host. */
export interface TaskContext {
  session: HostSession;
  /** Environment name (systemd unit names and state.json carry it). */
  env: string;
  /** ISO timestamp for records (`deployedAt`, `updatedAt`). */
  now(): string;
  /** One line of task output (progress, app log tails); never secret values. */
  log(line: string): void;
  signal?: AbortSignal;
}

/** How a task ended when it did not throw (the port's one shape). */
export type { TaskOutcome } from "../ports/tasks.js";

/** Seconds an app gets between TERM and KILL when a task stops it, unless the task is told otherwise. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** Options shared by the tasks that stop or start an app. */
export interface ProcessOptions {
  /** Time between TERM and KILL when the app is stopped; default 10 s. */
  stopGraceMs?: number;
  /** How long the health gate waits for 2xx/3xx after a (re)start; default 30 s. */
  healthTimeoutMs?: number;
}

/** `billing@2.3.0`: the subject of a task's messages. */
export function subjectOf(instance: HostInstance): string {
  return `${instance.app}@${instance.version}`;
}

/** Release directory name: `<version>-<first 8 hex digits of the package sha256>`. The release holds
 * the unpacked package; its env and start command are rewritten in place when only they change. Throws
 * for a version or sha256 that could make it anything but one path segment under the app's releases/. */
export function releaseName(instance: HostInstance): string {
  // Defence in depth (config validation refuses these first): `../../billing/releases/2.3.0` would be another
  // app's release, whose start command and env this deploy would rewrite.
  if (!SAFE_VERSION.test(instance.version) || !/^[0-9a-f]{8}/i.test(instance.sha256)) {
    throw new TaskError(instance.app, `refusing version ${JSON.stringify(instance.version)}: not a safe release directory name`);
  }
  return `${instance.version}-${instance.sha256.slice(0, 8)}`;
}

/** Whole seconds, rounded up, at least 1 (the host scripts count in seconds). */
export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Sets (or, with null, removes) the record of `app` and writes state.json; apps stay sorted by name so
 * the file's bytes depend only on its content. */
export async function saveState(ctx: TaskContext, state: HostStateFile, app: string, record: InstalledApp | null): Promise<void> {
  setRecord(ctx, state, app, record);
  await writeHostState(ctx.session, state);
}

/** saveState without the write: sets (or removes) the record of `app` in `state` and its `updatedAt`. */
export function setRecord(ctx: TaskContext, state: HostStateFile, app: string, record: InstalledApp | null): void {
  const apps = { ...state.apps };
  if (record) apps[app] = record;
  else delete apps[app];
  state.apps = Object.fromEntries(Object.keys(apps).sort().map((k) => [k, apps[k] as InstalledApp]));
  state.updatedAt = ctx.now();
}

/** Sets (or, with null, removes) the pending deploy of `app` in `state`, without writing; the key goes
 * away with the last entry, so a host with no deploy under way has the same state.json as before. */
export function markPending(state: HostStateFile, app: string, pending: PendingDeploy | null): void {
  const all = { ...state.pending };
  if (pending) all[app] = pending;
  else delete all[app];
  if (Object.keys(all).length === 0) delete state.pending;
  else state.pending = Object.fromEntries(Object.keys(all).sort().map((k) => [k, all[k] as PendingDeploy]));
}

// Small interfaces between the pure core and the adapters that touch the outside world.
// The core stages import these types; only adapters implement them.
import type { RunRecord, TaskRecord } from "../model/index.js";

/** A config repo to read: a directory, or one Git revision of a repository. Paths are repo-relative, `/`-separated. */
export interface ConfigSource {
  /** Human-readable origin for messages: a directory path or `<repo>@<rev>`. */
  readonly description: string;
  /** The commit SHA being read, or null for a plain directory. */
  revision(): Promise<string | null>;
  /** Every file path under `prefix` (recursively), sorted. Missing prefix → empty list. */
  list(prefix: string): Promise<string[]>;
  /** The names of the folders directly under `prefix`, sorted; nothing below them is looked at (an app folder's
   * spec.yaml is then read by name: listing each of 10,000 app folders was a tenth of a plan). Missing prefix →
   * empty list. */
  folders(prefix: string): Promise<string[]>;
  /** The file's text, or null when it does not exist. */
  read(path: string): Promise<string | null>;
  /** The file's bytes (VM packages are binary), or null when it does not exist. */
  readBytes(path: string): Promise<Buffer | null>;
  /** Whether a file exists (used for package paths; must not read large files). */
  exists(path: string): Promise<boolean>;
}

/** Wall-clock time, injectable so tests and golden files are deterministic. */
export interface Clock {
  now(): Date;
}

/** Where runs and their tasks are kept (file backend: `.amphi/runs/`; Consul KV later). */
export interface StateStore {
  /** Creates or replaces a run record (atomically: readers see the old or the new record). */
  saveRun(run: RunRecord): Promise<void>;
  getRun(id: string): Promise<RunRecord | null>;
  /** Runs, newest first, optionally of one environment. */
  listRuns(opts?: { env?: string; limit?: number }): Promise<RunRecord[]>;
  /** The run holding a task, found by task ID. */
  findTask(taskId: string): Promise<{ run: RunRecord; task: TaskRecord } | null>;
}

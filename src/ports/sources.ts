// The RepoSource port: where the loop gets its config repo and which commit it reconciles. Adapters:
// sources/local.ts (a directory or a local Git repository) and sources/remote.ts (a fetched URL).
import type { ConfigSource } from "./index.js";

/** The config repo at one point: what a reconcile reads. */
export interface Snapshot {
  /** The commit SHA read, or null for a plain directory (not a Git repo: no revision to record). */
  revision: string | null;
  /** Reads exactly that commit (or the directory). */
  source: ConfigSource;
  /** For messages and run records: `<dir>@<sha>` or `<url without credentials>@<sha>`. */
  description: string;
  /** Ends the git reader behind `source`. */
  close(): void;
}

/** Where the loop gets its config from. */
export interface RepoSource {
  /** `directory`, `git` (a local repository: its committed HEAD or branch) or `remote` (a fetched URL). */
  readonly kind: "directory" | "git" | "remote";
  /** Directory or URL, never with credentials. */
  readonly description: string;
  /** The local Git repository behind the source (the repo, or a remote's mirror), or null for a plain
   * directory: where git-notes statuses are written. */
  readonly repoDir: string | null;
  /** Brings the source up to date (a fetch for remotes) and returns the snapshot of `branch`
   * (null: HEAD of a local repo, `main` of a remote). */
  snapshot(branch: string | null, signal?: AbortSignal): Promise<Snapshot>;
  /** Calls `onChange` after a burst of changes that may change a snapshot (local sources only;
   * remotes change by fetch, on an interval or a webhook). Returns a handle to stop watching. */
  watch(onChange: () => void, onError: (e: Error) => void): Promise<{ close(): Promise<void> }>;
  close(): Promise<void>;
}

/** One line of `git diff --name-status`: status letter, path, and the old path of a rename or copy. */
export interface PathChange {
  status: string;
  path: string;
  from?: string;
}

// Sources of the GitOps loop: where the config repo comes from and which commit is reconciled.
// In: a local directory (`--repo`) or a remote URL (`--url`) and a branch. Out: snapshots — one commit
// SHA (or, for a plain directory, the files as they are) readable as a ConfigSource — and change events.
import type { ConfigSource } from "../ports/index.js";

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

export { LocalSource, openLocalSource } from "./local.js";
export { RemoteSource, mirrorDir } from "./remote.js";
export { redactText, redactUrl } from "./redact.js";

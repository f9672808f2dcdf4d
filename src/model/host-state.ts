// What amphi records on each VM host (`<baseDir>/state.json`): the instances and capture rules it
// installed there. Written durably after each task (temp file, fsync, rename, previous copy kept as
// state.json.bak); the host half of the actual state is read from it.
import type { CaptureRules, HostInstance } from "./resources.js";

/** One app installed on a host: the instance as deployed, and the release directory it runs from. */
export interface InstalledApp {
  instance: HostInstance;
  /** Release directory name under `apps/<app>/releases/`, e.g. `2.3.0-5d3785d5`. */
  release: string;
  /** The release that was current before this one (what a rollback returns to), or null. */
  previous: string | null;
  /** Whether amphi last left the app running (`stop` sets false, `start`/`deploy` true). */
  running: boolean;
  deployedAt: string;
}

/** A deploy under way: written before the deploy stops or starts anything, removed once it succeeded or
 * was rolled back. Found by a later run, it means the run doing it died (SIGKILL, a lost host): the host
 * may run the old release, nothing, or the new one unchecked; the next deploy first puts `previous` back. */
export interface PendingDeploy {
  /** The release being deployed (`2.4.0-1a2b3c4d`). */
  release: string;
  instance: HostInstance;
  /** The last good release: what `current` pointed at before the deploy, or null (a first deploy). Equal to
   * `release` for a change of env or start command in place, whose good files activate sets aside in
   * `releases/<release>/.amphi/rollback/`. */
  previous: string | null;
  /** Whether `previous` was running (a rollback starts it again only then). */
  previousRunning: boolean;
  since: string;
}

/** The whole `state.json`. */
export interface HostStateFile {
  apiVersion: "amphi.dev/v1";
  kind: "HostState";
  env: string;
  hostGroup: string;
  host: string;
  updatedAt: string;
  apps: Record<string, InstalledApp>;
  capture: CaptureRules | null;
  /** Deploys under way by app (absent when there are none). */
  pending?: Record<string, PendingDeploy>;
}

/** An empty state for a host amphi has not touched yet. */
export function emptyHostState(env: string, hostGroup: string, host: string, at: string): HostStateFile {
  return { apiVersion: "amphi.dev/v1", kind: "HostState", env, hostGroup, host, updatedAt: at, apps: {}, capture: null };
}

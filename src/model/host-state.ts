// What amphi records on each VM host (`<baseDir>/state.json`): the instances and capture rules it
// installed there. Written atomically after each task; the host half of the actual state is read from it.
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
}

/** An empty state for a host amphi has not touched yet. */
export function emptyHostState(env: string, hostGroup: string, host: string, at: string): HostStateFile {
  return { apiVersion: "amphi.dev/v1", kind: "HostState", env, hostGroup, host, updatedAt: at, apps: {}, capture: null };
}

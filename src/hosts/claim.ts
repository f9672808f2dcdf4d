// Which environment a host's baseDir belongs to. state.json names the environment that wrote it; while it
// records apps (deployed or being deployed) or capture rules, the baseDir is that environment's, and every other environment is refused
// there. Why refuse rather than share: the default baseDir (/opt/amphi) is the same for every environment,
// and two environments reading one record would each plan to undeploy the other's apps, forever.
import type { HostStateFile } from "../model/index.js";
import type { HostRef } from "../ports/hosts.js";
import { TaskError } from "./errors.js";

/** The host's state as environment `env` may use it: an unclaimed record (no apps, no capture rules, or
 * written by `env` itself) comes back with `env` as its owner; a record another environment holds is a
 * TaskError naming the baseDir, the owner and the fix, e.g. `vm-2: /opt/amphi belongs to environment
 * local2 (state.json); give environment local its own baseDir (hostGroups[].baseDir)`. */
export function claimHostState(ref: HostRef, state: HostStateFile, env: string): HostStateFile {
  if (state.env && state.env !== env && (Object.keys({ ...state.apps, ...state.pending }).length > 0 || state.capture)) {
    throw new TaskError(ref.host, `${ref.baseDir} belongs to environment ${state.env} (state.json); give environment ${env} its own baseDir (hostGroups[].baseDir)`);
  }
  return state.env === env ? state : { ...state, env };
}

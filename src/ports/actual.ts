// The ActualReader port: live state of one runtime of an environment (hosts through their sessions,
// clusters through kubectl, the registry through Consul). reconcile/actual.ts reads through every reader
// the CLI hands it; a target a reader could not see is `unreachable`, never an empty answer.
import type { ActualResource, EnvironmentModel, ObservedProxy, UnreachableTarget } from "../model/index.js";

/** What one reader saw: the resources it read, and each target it could not read (with why). */
export interface ActualRead {
  resources: ActualResource[];
  unreachable: UnreachableTarget[];
  /** The mesh's proxies as its control plane published them (the mesh reader only). */
  proxies?: ObservedProxy[];
}

/** Reads the live state of one runtime of an environment. Never rejects for a target it cannot reach:
 * that target goes to `unreachable`, so a plan never deletes or recreates what it could not see. */
export interface ActualReader {
  read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead>;
}

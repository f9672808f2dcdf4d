// The mesh runtime's resource (`mesh`): one service's traffic policy as the environment's control plane serves it.
// The model's Resource union gains this member here by module augmentation.
import type { TrafficPolicy } from "../../model/index.js";

declare module "../../model/resources.js" {
  interface RuntimeResources {
    mesh: { app: string; policy: TrafficPolicy };
  }
}

/** The target every mesh resource names: the environment's one control plane (xDS). */
export const MESH_TARGET = "xds";

/** The resource key of a service's traffic policy: `mesh/<service>`. */
export function meshKey(service: string): string {
  return `mesh/${service}`;
}


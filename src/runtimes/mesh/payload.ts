import type { TrafficPolicy } from "../../model/index.js";

/** Payload of the mesh runtime's one task kind: the policy to record as applied for one service, or null to
 * take the service's policy out of the mesh (its defaults apply again). The control plane serves what is
 * recorded, so recording it is the apply: a push to the proxies, no redeploy. */
export type MeshPayload = { kind: "mesh-policy"; service: string; app: string | null; policy: TrafficPolicy | null };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    mesh: MeshPayload;
  }
}

import type { VmSidecar } from "./resource.js";

/** Payloads of the sidecar tasks: install (or upgrade) and start a host's Envoy; stop and remove it. */
export type SidecarPayload = { kind: "sidecar"; sidecar: VmSidecar } | { kind: "unsidecar" };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    sidecar: SidecarPayload;
  }
}

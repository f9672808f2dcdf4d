import type { Resource } from "../../model/index.js";

/** Payloads of the k8s runtime's tasks: one batch per cluster, wave and direction. */
export type K8sPayload = { kind: "k8s-apply"; objects: Extract<Resource, { runtime: "k8s" }>[] } | { kind: "k8s-delete"; keys: string[]; objects: string[] };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    k8s: K8sPayload;
  }
}

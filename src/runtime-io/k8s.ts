// The k8s runtime's I/O: clusters read and changed through kubectl (adapters/kubectl).
import { ClusterReader } from "../adapters/kubectl/reader.js";
import { ClusterTaskHandler } from "../adapters/kubectl/handler.js";
import type { RuntimeIo } from "./types.js";

/** Reads every cluster of the environment; runs k8s-apply and k8s-delete batches. */
export const k8sIo: RuntimeIo = {
  runtime: "k8s",
  reader: (ctx) => new ClusterReader(ctx.kubectl),
  handler: (ctx, apply) =>
    new ClusterTaskHandler({ clusters: ctx.env.clusters, env: ctx.env.name, kubectl: ctx.kubectl, healthTimeoutMs: apply.healthTimeoutMs, forceConflicts: apply.forceConflicts, secrets: ctx.env.secrets }),
};

// How `amphi render --out` writes Kubernetes objects: plain manifests in `clusters/<cluster>.yaml`, which
// `kubectl apply -f DIR/clusters/` accepts (the rendered-manifests pattern for Argo CD or Flux users).
import type { K8sObject } from "../../model/index.js";
import type { FilesHooks } from "../types.js";

/** The k8s files hook: one document per object in its cluster's file, in kind order. */
export const k8sFiles: FilesHooks<"k8s"> = {
  layout: "clusters",
  file: (r) => r.target,
  document: (r) => orderTopLevel(r.object),
  rank: (r) => kindRank(r.object.kind),
};

// ConfigMaps before the Deployments whose pods mount them (a pod waits for a missing one), Services before
// Deployments: a Service that exists first gets its endpoints filled as the pods come up.
const KIND_ORDER = ["ConfigMap", "Service", "Deployment"];

function kindRank(kind: string): number {
  const rank = KIND_ORDER.indexOf(kind);
  return rank === -1 ? KIND_ORDER.length : rank;
}

// apiVersion, kind, metadata, spec first, as people write manifests; any other top-level key after them.
function orderTopLevel(object: K8sObject): Record<string, unknown> {
  const first = ["apiVersion", "kind", "metadata", "spec"].filter((k) => k in object);
  const rest = Object.keys(object).filter((k) => !first.includes(k));
  return Object.fromEntries([...first, ...rest].map((k) => [k, object[k]]));
}

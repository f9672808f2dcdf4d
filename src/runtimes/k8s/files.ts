// How `amphi render --out` writes Kubernetes objects: plain manifests in `clusters/<cluster>.yaml`, which
// `kubectl apply -f DIR/clusters/` accepts (the rendered-manifests pattern for Argo CD or Flux users).
import type { K8sObject } from "../../model/index.js";

/** Annotation on a rendered Secret saying its values are not in the file. */
export const SECRET_VALUES_ANNOTATION = "amphi.dev/secret-values";
import type { FilesHooks } from "../types.js";

/** The k8s files hook: one document per object in its cluster's file, in kind order. */
export const k8sFiles: FilesHooks<"k8s"> = {
  layout: "clusters",
  file: (r) => r.target,
  document: (r) => orderTopLevel(withoutSecretData(r.object)),
  rank: (r) => kindRank(r.object.kind),
};

// ConfigMaps before the Deployments whose pods mount them (a pod waits for a missing one), Services before
// Deployments: a Service that exists first gets its endpoints filled as the pods come up.
const KIND_ORDER = ["Secret", "ConfigMap", "Service", "Deployment"];

// A Secret is written without its data: rendered files are committed to manifests repos and kept as CI artifacts,
// and the desired side holds only tokens anyway. The annotation says where the values come from; `amphi apply`
// (or your own secret tooling, e.g. a SOPS-encrypted Secret of the same name decrypted by Flux) writes them.
function withoutSecretData(object: K8sObject): K8sObject {
  if (object.kind !== "Secret") return object;
  const { data: _data, stringData: _stringData, ...rest } = object;
  const annotations = { ...rest.metadata.annotations, [SECRET_VALUES_ANNOTATION]: "not rendered; amphi apply writes them from the environment's encrypted secrets file" };
  return { ...rest, metadata: { ...rest.metadata, annotations } } as K8sObject;
}

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

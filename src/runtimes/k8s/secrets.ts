// Secrets in Kubernetes objects: pod env values named in the secret-env annotation, `data`/`stringData` of a Secret.
import type { Json, K8sObject } from "../../model/index.js";
import { k8sSecretNames, k8sSecretPredicate, redactDeep } from "../../compare/redact.js";
import type { SecretHooks } from "../types.js";

/** The k8s runtime's secret hooks. No `values`: the objects' values never reach task output (kubectl
 * prints object names only). */
export const k8sSecrets: SecretHooks<"k8s"> = {
  mask: (r) => {
    const isSecret = k8sSecretPredicate(r.object.kind, k8sSecretNames(r.object));
    return { ...r, object: redactDeep(r.object as unknown as Json, [], isSecret) as unknown as K8sObject };
  },
};

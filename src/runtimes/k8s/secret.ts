// The Secret amphi manages for an app's secret env vars (`amphi-secrets-<app>`), referenced by `secretKeyRef`s in
// its pod. Its desired `data` holds each value's token, never the value: the cluster handler puts the plaintext
// in at apply time, and the diff compares the keyed digest in its annotation instead of the data. The pod
// template carries the same digest, so a changed value rolls the pods.
import type { EnvVar } from "kubernetes-types/core/v1.js";
import {
  SECRET_DIGEST_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  combinedToken,
  type AppModel,
  type ClusterPlacement,
  type ContainerModel,
  type EnvironmentModel,
  type K8sObject,
} from "../../model/index.js";

/** Name of an app's Secret. */
export function secretName(app: string): string {
  return `amphi-secrets-${app}`;
}

/** The keyed digest of a container's secret values (the placeholder while any is unknown), or null without any. */
export function secretDigest(container: ContainerModel): string | null {
  const secret = container.env.filter((e) => e.secret);
  return secret.length === 0 ? null : combinedToken(secret.map((e) => [e.name, e.value] as const));
}

/** A container's env: plain values as they are, secrets as references into the app's Secret. */
export function containerEnv(app: string, container: ContainerModel): EnvVar[] {
  return container.env.map((e) => (e.secret ? { name: e.name, valueFrom: { secretKeyRef: { name: secretName(app), key: e.name } } } : { name: e.name, value: e.value }));
}

/** The app's Secret in the placement's namespace, or null when its container has no secret env. */
export function secretObject(app: AppModel, env: EnvironmentModel, placement: ClusterPlacement, labels: Record<string, string>): K8sObject | null {
  const digest = secretDigest(placement.container);
  if (digest === null) return null;
  // Later entries win, as in the pod: the loader puts the environment's overrides after the app's values.
  const data = Object.fromEntries(placement.container.env.filter((e) => e.secret).map((e) => [e.name, e.value]));
  const annotations = { [SPEC_HASH_ANNOTATION]: app.specHash, [SECRET_DIGEST_ANNOTATION]: digest };
  return { apiVersion: "v1", kind: "Secret", metadata: { name: secretName(app.name), namespace: placement.namespace, labels, annotations }, type: "Opaque", data };
}

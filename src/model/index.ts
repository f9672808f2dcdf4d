// Types only (plus a few small pure helpers): the spec as loaded, desired/actual resources, changes, plans, problems,
// health values, canonical JSON. Every stage imports from here; nothing here imports a stage.
export * from "./spec.js";
export * from "./resources.js";
export * from "./change.js";
export * from "./problem.js";
export * from "./order.js";
export * from "./host-state.js";
export * from "./run.js";
export * from "./health.js";
export * from "./canonical-json.js";
export * from "./digest.js";
export * from "./environment.js";
export * from "./traffic.js";
export * from "./lookup.js";
export * from "./version.js";
export * from "./limit.js";
export * from "./pods.js";
export * from "./proxies.js";
export * from "./secrets.js";

/** Labels amphi puts on every Kubernetes object it renders; the live-state selector uses them. */
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  name: "app.kubernetes.io/name",
  app: "amphi.dev/app",
  env: "amphi.dev/env",
} as const;
/** Annotation carrying the spec hash of the app an object was rendered from. */
export const SPEC_HASH_ANNOTATION = "amphi.dev/spec-hash";
/** Annotation listing (comma-separated) the names of secret env vars of a Deployment, on its pod template.
 * The diff masks the values of these env vars in every change; render sets it when an app has secret env. */
export const SECRET_ENV_ANNOTATION = "amphi.dev/secret-env";
/** Annotation on a pod template carrying the version its pods run when the app or placement sets one
 * (`container.version`); the pod sync tags the pods' registrations with it instead of the image tag. */
export const VERSION_ANNOTATION = "amphi.dev/version";
/** Consul tag marking a registration as amphi's (unexpected amphi-tagged ones are drift). */
export const CONSUL_TAG = "amphi";

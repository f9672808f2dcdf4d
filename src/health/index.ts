// health: live objects (and, later, host and registry state) in, a health verdict with a one-line reason out.
// Pure: time comes in as an argument. Kubernetes rules are in k8s.ts; the health values themselves in model/health.ts.

export { HEALTH_ORDER, worst, type Health, type HealthResult } from "../model/health.js";
export { deploymentHealth, objectHealth, type DeploymentHealthOptions } from "../runtimes/k8s/health.js";
export {
  formatRegistryDrift,
  registryDrift,
  registryDriftOf,
  REGISTRY_DRIFT_KINDS,
  type ObservedRegistration,
  type RegistryDrift,
  type RegistryDriftKind,
} from "./registry.js";
export { podRegistryDrift } from "./pod-registry.js";

// kubectl adapter: the only code that reaches a Kubernetes cluster. Cluster models and objects in; live
// objects (readCluster), per-object apply/delete results, and task outcomes (ClusterTaskHandler) out.
export { readCluster, clusterNamespaces, managedSelector, MANAGED_RESOURCES, type ReadClusterOptions, type K8sActual } from "./read.js";
export { applyObjects, deleteObjects, FIELD_MANAGER, type ApplyOptions, type ApplyResult, type DeleteResult, type ObjectRef } from "./apply.js";
export { ClusterReader } from "./reader.js";
export { ClusterTaskHandler, parseObjectName, type ClusterHandlerOptions } from "./handler.js";
export { waitHealthy, type DeploymentVerdict, type WaitOptions } from "./wait.js";
export { runKubectl, kubectlOk, type KubectlOptions, type KubectlRun } from "./run.js";
export { KubectlError, ClusterTaskError, type ObjectFailure } from "./errors.js";
export { KubectlPodSource, listPods, podInfo, watchPods, type PodWatchOptions } from "./pods.js";

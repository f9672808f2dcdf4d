// Pods of amphi's Deployments and their instances in the registry: what the pod sync (src/pod-sync) reads
// from the clusters and from Consul, and what it writes. Plain data.

/** One pod of an amphi Deployment, as read from a cluster by label (`kubectl get pods -l …`). */
export interface PodInfo {
  cluster: string;
  namespace: string;
  name: string;
  /** Label `amphi.dev/app`. */
  app: string;
  /** Label `amphi.dev/env`. */
  env: string;
  /** `status.podIP`; "" while the pod has none. */
  ip: string;
  /** Condition `Ready` is `True` and the pod is not being deleted (what an Endpoints controller counts as ready). */
  ready: boolean;
  /** The image of the app's container (`app`), or null when the pod has no such container. */
  image: string | null;
  /** Annotation `amphi.dev/version` (the app's or placement's `container.version`), or null when the pod has none. */
  version: string | null;
}

/** Check statuses a registration can have in Consul. */
export type PodCheckStatus = "passing" | "warning" | "critical";

/** One pod instance in Consul: a catalog registration of one (service, port) of a pod, under the synthetic
 * node of its cluster (`amphi-k8s-<cluster>`), with one check whose status is the pod's readiness. */
export interface PodRegistration {
  node: string;
  id: string;
  service: string;
  app: string;
  env: string;
  cluster: string;
  namespace: string;
  pod: string;
  address: string;
  port: number;
  version: string;
  tags: string[];
  meta: Record<string, string>;
  /** The check's status: `passing` when amphi writes it (only ready pods are registered); as read otherwise. */
  check: PodCheckStatus;
}

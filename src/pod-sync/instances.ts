// The registrations the ready pods of an environment call for: one per (service, port) of the pod's app, with
// the same tags and meta as a VM instance's (src/runtimes/registry/render.ts) plus runtime, cluster and pod.
import { CONSUL_TAG, compareStrings, imageTag, type AppModel, type EnvironmentModel, type PodInfo, type PodRegistration } from "../model/index.js";
import { registeredPorts } from "../runtimes/registry/render.js";

/** The tag and meta value naming pod instances' runtime (`runtime:k8s`, meta `amphi-runtime: k8s`). */
export const POD_RUNTIME = "k8s";

/** The synthetic Consul node of a cluster's pods: `amphi-k8s-<cluster>`. Why a node per cluster, as
 * consul-k8s's catalog sync does with its one `k8s-sync` node: pods run no Consul agent, service IDs are
 * unique per node, and a node per cluster keeps each cluster's instances apart (and findable by node). */
export function podNode(cluster: string): string {
  return `amphi-k8s-${cluster}`;
}

/** The Consul service ID of one port of one pod: `<namespace>.<pod>-<port>` (a namespace has no dot, so the
 * ID is unambiguous; pod names are unique per namespace). */
export function podInstanceId(namespace: string, pod: string, port: number): string {
  return `${namespace}.${pod}-${port}`;
}

/** The version a pod runs: its `amphi.dev/version` annotation (the app's or placement's `container.version`),
 * else its app container's image tag — as placementVersion reads it from the placement, but from the pod
 * itself, so a pod of an older ReplicaSet still says what it runs during a rollout. */
export function podVersion(pod: PodInfo): string {
  if (pod.version !== null) return pod.version;
  return pod.image === null ? "unknown" : imageTag(pod.image);
}

/** The registrations the environment's ready pods call for, sorted by node then ID. Pods of other
 * environments, of apps the model does not have, or without an IP yet call for none. */
export function podRegistrations(env: EnvironmentModel, apps: readonly AppModel[], pods: readonly PodInfo[]): PodRegistration[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  const out: PodRegistration[] = [];
  for (const pod of pods) {
    const app = byName.get(pod.app);
    if (!app || pod.env !== env.name || !pod.ready || !pod.ip) continue;
    for (const { service, port } of registeredPorts(app)) out.push(podRegistration(env.name, pod, service.name, port.targetPort));
  }
  return out.sort(compareRegistrations);
}

/** One pod port's registration. */
export function podRegistration(env: string, pod: PodInfo, service: string, port: number): PodRegistration {
  const version = podVersion(pod);
  return {
    node: podNode(pod.cluster),
    id: podInstanceId(pod.namespace, pod.name, port),
    service,
    app: pod.app,
    env,
    cluster: pod.cluster,
    namespace: pod.namespace,
    pod: pod.name,
    address: pod.ip,
    port,
    version,
    tags: [CONSUL_TAG, `env:${env}`, `app:${pod.app}`, `version:${version}`, `runtime:${POD_RUNTIME}`],
    meta: {
      "amphi-app": pod.app,
      "amphi-env": env,
      "amphi-version": version,
      "amphi-runtime": POD_RUNTIME,
      "amphi-cluster": pod.cluster,
      "amphi-namespace": pod.namespace,
      "amphi-pod": pod.name,
    },
    check: "passing",
  };
}

/** Whether a registration read from Consul is a pod instance amphi registered for environment `env`: tags
 * `amphi`, `env:<env>`, `runtime:k8s`, the same in meta, on the synthetic node of the cluster its meta names.
 * Only such registrations are ever deregistered. */
export function isOwnPodRegistration(r: PodRegistration, env: string): boolean {
  const cluster = r.meta["amphi-cluster"] ?? "";
  return (
    r.tags.includes(CONSUL_TAG) &&
    r.tags.includes(`env:${env}`) &&
    r.tags.includes(`runtime:${POD_RUNTIME}`) &&
    r.meta["amphi-runtime"] === POD_RUNTIME &&
    r.meta["amphi-env"] === env &&
    cluster !== "" &&
    r.node === podNode(cluster)
  );
}

/** Node, then ID. */
export function compareRegistrations(a: PodRegistration, b: PodRegistration): number {
  return compareStrings(a.node, b.node) || compareStrings(a.id, b.id);
}

// What a fresh cluster holds (the system namespaces and the `kubernetes` Service in default) and the
// status a Deployment controller would write once all replicas are up.
import { findType } from "./catalog.js";
import { isObj, type Obj } from "./fieldset.js";
import { recordUpdate } from "./managed.js";
import type { Store } from "./store.js";

const NAMESPACES = findType("", "v1", "namespaces")!;
const SERVICES = findType("", "v1", "services")!;

/** Creates the namespaces and the `default/kubernetes` Service, as kube-apiserver does at start. */
export function seed(store: Store, namespaces: string[]): void {
  const who = { manager: "kube-apiserver", operation: "Update" as const, apiVersion: "v1", time: store.timestamp() };
  for (const name of new Set(namespaces)) {
    const obj: Obj = { apiVersion: "v1", kind: "Namespace", metadata: { name } };
    store.commit({ type: NAMESPACES, namespace: undefined, name }, undefined, obj, { dryRun: false }, (o) => recordUpdate([], undefined, o, who));
  }
  const svc: Obj = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
    spec: { clusterIP: "10.96.0.1", ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
  };
  store.commit({ type: SERVICES, namespace: "default", name: "kubernetes" }, undefined, svc, { dryRun: false }, (o) => recordUpdate([], undefined, o, who));
}

function condition(type: string, reason: string, message: string, time: string, old: unknown): Obj {
  const prev = Array.isArray(old) ? old.find((c) => isObj(c) && c.type === type) : undefined;
  const since = isObj(prev) && prev.status === "True" ? prev.lastTransitionTime : time;
  const updated = isObj(prev) && prev.status === "True" && prev.reason === reason ? prev.lastUpdateTime : time;
  return { type, status: "True", lastUpdateTime: updated, lastTransitionTime: since, reason, message };
}

/** The status of a Deployment whose replicas are all updated, ready and available at `time`
 * (unchanged conditions keep their times, so writing it twice is a no-op). */
export function readyDeploymentStatus(deployment: Obj, time: string): Obj {
  const md = isObj(deployment.metadata) ? deployment.metadata : {};
  const spec = isObj(deployment.spec) ? deployment.spec : {};
  const old = isObj(deployment.status) ? deployment.status.conditions : undefined;
  const n = typeof spec.replicas === "number" ? spec.replicas : 1;
  const counts = n > 0 ? { replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n } : {};
  return {
    observedGeneration: md.generation,
    ...counts,
    conditions: [
      condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.", time, old),
      condition("Progressing", "NewReplicaSetAvailable", `ReplicaSet "${String(md.name)}-5d8f9c7b6d" has successfully progressed.`, time, old),
    ],
  };
}

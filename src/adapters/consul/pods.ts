// Pod instances in Consul, as consul-k8s's catalog sync keeps them: catalog registrations (PUT
// /v1/catalog/register) under a synthetic node per cluster (`amphi-k8s-<cluster>`, no agent behind it), each
// with one check whose status amphi sets (passing: only ready pods are registered), no TTL and no reporter in
// the pod; removed with /v1/catalog/deregister. Why the catalog and not the agent API: an agent owns what
// is registered through it and its anti-entropy would keep pods on that agent's node (the agent's address,
// not a node of the cluster), and agent registrations vanish with that agent. Read back through the same
// catalog and health endpoints as VM registrations (registry.ts).
import { compareStrings, type EnvironmentModel, type PodCheckStatus, type PodRegistration } from "../../model/index.js";
import type { PodCatalog } from "../../ports/pods.js";
import { consulClientFor, type ConsulClient } from "./client.js";
import { amphiEntries, isPodEntry, worstStatus, type HealthEntryJson } from "./registry.js";

/** The check of a pod instance: one per registration, on its synthetic node. */
export function podCheckId(id: string): string {
  return `amphi-k8s-ready:${id}`;
}

/** Writes one pod registration (creates or replaces it) with its check passing. */
export async function registerPod(client: ConsulClient, r: PodRegistration, signal?: AbortSignal): Promise<void> {
  await client.put("/v1/catalog/register", {
    body: {
      ...(client.datacenter ? { Datacenter: client.datacenter } : {}),
      Node: r.node,
      // The node is no host: its address is never dialled (every instance carries the pod IP).
      Address: "127.0.0.1",
      NodeMeta: { "external-source": "amphi", "amphi-cluster": r.cluster },
      Service: { ID: r.id, Service: r.service, Tags: r.tags, Address: r.address, Port: r.port, Meta: r.meta },
      Checks: [{
        Node: r.node,
        CheckID: podCheckId(r.id),
        Name: "Kubernetes readiness",
        Status: r.check,
        ServiceID: r.id,
        Notes: `amphi registers ${r.namespace}/${r.pod} while Kubernetes reports it Ready (from the cluster, not from a check in the pod)`,
        Output: `pod ${r.namespace}/${r.pod} on ${r.cluster} is ready`,
      }],
    },
    signal,
  });
}

/** Removes one pod registration and its check (Consul answers true also when it is already gone). */
export async function deregisterPod(client: ConsulClient, r: Pick<PodRegistration, "node" | "id">, signal?: AbortSignal): Promise<void> {
  await client.put("/v1/catalog/deregister", { body: { ...(client.datacenter ? { Datacenter: client.datacenter } : {}), Node: r.node, ServiceID: r.id }, signal });
}

/** Every pod instance tagged `amphi` and `env:<env>`, with its check status, sorted by node then ID. */
export async function readPodRegistrations(client: ConsulClient, env: string, signal?: AbortSignal): Promise<PodRegistration[]> {
  const entries = (await amphiEntries(client, env, { signal })).filter(isPodEntry);
  return entries.map(podRegistrationOf).sort((a, b) => compareStrings(a.node, b.node) || compareStrings(a.id, b.id));
}

/** A health entry as a PodRegistration. */
export function podRegistrationOf(e: HealthEntryJson): PodRegistration {
  const s = e.Service;
  const meta = s.Meta ?? {};
  const tags = s.Tags ?? [];
  const own = e.Checks.filter((c) => c.ServiceID === s.ID || c.ServiceID === "");
  return {
    node: e.Node.Node,
    id: s.ID,
    service: s.Service,
    app: meta["amphi-app"] ?? "",
    env: meta["amphi-env"] ?? "",
    cluster: meta["amphi-cluster"] ?? "",
    namespace: meta["amphi-namespace"] ?? "",
    pod: meta["amphi-pod"] ?? "",
    address: s.Address,
    port: s.Port,
    version: tags.find((t) => t.startsWith("version:"))?.slice("version:".length) ?? "",
    tags,
    meta,
    check: worstStatus(own.map((c) => c.Status)) satisfies PodCheckStatus,
  };
}

/** The PodCatalog port on an environment's Consul (its token from `consul.tokenEnv`). */
export function consulPodCatalog(env: EnvironmentModel, processEnv: Record<string, string | undefined>): PodCatalog {
  const client = consulClientFor(env.consul, processEnv);
  return {
    address: client.address,
    read: (e, signal) => readPodRegistrations(client, e.name, signal),
    register: (r, signal) => registerPod(client, r, signal),
    deregister: (r, signal) => deregisterPod(client, r, signal),
  };
}


// Pod instances in Consul, as consul-k8s's catalog sync keeps them: catalog registrations (PUT
// /v1/catalog/register) under a synthetic node per cluster (`amphi-k8s-<cluster>`, no agent behind it), each
// with one check whose status amphi sets (passing: only ready pods are registered), no TTL and no reporter in
// the pod; removed with /v1/catalog/deregister. Why the catalog and not the agent API: an agent owns what
// is registered through it and its anti-entropy would keep pods on that agent's node (the agent's address,
// not a node of the cluster), and agent registrations vanish with that agent. Read back through the same
// catalog and health endpoints as VM registrations (registry.ts).
import { CONSUL_TAG, compareStrings, forEachLimit, type EnvironmentModel, type PodCheckStatus, type PodRegistration } from "../../model/index.js";
import type { PodCatalog } from "../../ports/pods.js";
import { ConsulError, consulClientFor, type ConsulClient } from "./client.js";
import { isPodEntry, refuseFiltered, worstStatus, type CheckJson, type HealthEntryJson, type ServiceJson } from "./registry.js";

/** The node meta marking amphi's synthetic nodes (`external-source: amphi`, as consul-k8s marks its own
 * `k8s`): how readPodRegistrations finds them. */
const NODE_SOURCE_KEY = "external-source";
const NODE_SOURCE = "amphi";
/** Nodes read at once by readPodRegistrations (as the VM registry reads 8 services at once). */
const NODE_READS = 8;

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
      NodeMeta: { [NODE_SOURCE_KEY]: NODE_SOURCE, "amphi-cluster": r.cluster },
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

/** Every pod instance tagged `amphi` and `env:<env>`, with its check status, sorted by node then ID. Read by
 * node, since every pod instance is on one of amphi's synthetic nodes: those nodes (`/v1/catalog/nodes`, by the
 * node meta registerPod writes), then per node its services (`/v1/catalog/node-services/<node>`) and its checks
 * (`/v1/health/node/<node>`) in one request each — 1 + 2 × clusters reads, however many services there are. */
export async function readPodRegistrations(client: ConsulClient, env: string, signal?: AbortSignal): Promise<PodRegistration[]> {
  const dc: Record<string, string> = client.datacenter ? { dc: client.datacenter } : {};
  const nodes = await client.get<NodeJson[] | null>("/v1/catalog/nodes", { query: { ...dc, "node-meta": `${NODE_SOURCE_KEY}:${NODE_SOURCE}` }, signal });
  refuseFiltered(client, nodes.filtered);
  const names = (nodes.data ?? []).map((n) => n.Node).sort(compareStrings);
  // At most NODE_READS nodes at once (two requests each), however many clusters the datacenter's amphi nodes hold.
  const perNode: HealthEntryJson[][] = [];
  await forEachLimit(names, NODE_READS, async (node) => void perNode.push(await nodeEntries(client, node, dc, signal)));
  const entries = perNode.flat().filter((e) => isPodEntry(e) && (e.Service.Tags ?? []).includes(CONSUL_TAG) && (e.Service.Tags ?? []).includes(`env:${env}`));
  return entries.map(podRegistrationOf).sort((a, b) => compareStrings(a.node, b.node) || compareStrings(a.id, b.id));
}

/** A node as /v1/catalog/nodes lists it. */
interface NodeJson {
  Node: string;
  Address: string;
}

// The services of one node with their checks, as /v1/health/service entries would show them. A node deleted
// between the list and this read has none.
async function nodeEntries(client: ConsulClient, node: string, dc: Record<string, string>, signal?: AbortSignal): Promise<HealthEntryJson[]> {
  const path = encodeURIComponent(node);
  const [services, checks] = await Promise.all([
    client.get<{ Node: NodeJson | null; Services: ServiceJson[] | null } | null>(`/v1/catalog/node-services/${path}`, { query: dc, signal }).catch((e: unknown) => {
      if (e instanceof ConsulError && e.status === 404) return { data: null, filtered: false };
      throw e;
    }),
    client.get<CheckJson[] | null>(`/v1/health/node/${path}`, { query: dc, signal }),
  ]);
  refuseFiltered(client, services.filtered || checks.filtered);
  const n = services.data?.Node;
  if (!n) return [];
  return (services.data?.Services ?? []).map((s) => ({
    Node: { Node: n.Node, Address: n.Address },
    Service: s,
    Checks: (checks.data ?? []).filter((c) => c.ServiceID === s.ID || c.ServiceID === ""),
  }));
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


// The registry and the config repo → a MeshSnapshot: which services the mesh serves (the apps placed in the
// environment, with their ports and protocols), their instances as Consul has them (passing or not, version from
// the `version:<v>` tag, locality from the pod's cluster or the VM's host group), and their traffic policy.
import type { EnvironmentModel, MeshModel, Model, Protocol } from "../model/spec.js";
import type { TrafficPolicy } from "../model/traffic.js";
import type { MeshInstance, MeshService, MeshSettings, MeshSnapshot } from "./snapshot.js";

/** A service the config repo declares, with its ports. */
export interface ServiceDecl {
  name: string;
  /** The app that declares it. */
  app: string;
  ports: { port: number; protocol: Protocol }[];
}

/** One registry entry of a service (a Consul health entry, reduced). */
export interface RegisteredInstance {
  id: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  passing: boolean;
}

/** The services of the apps placed in `env`, sorted by name (each once, whatever the number of placements). */
export function declaredServices(model: Model, env: EnvironmentModel): ServiceDecl[] {
  const placed = new Set(env.placements.map((p) => p.app));
  const out = new Map<string, ServiceDecl>();
  for (const app of model.apps.filter((a) => placed.has(a.name))) {
    for (const s of app.services) out.set(s.name, { name: s.name, app: app.name, ports: s.ports.map((p) => ({ port: p.targetPort, protocol: p.protocol })) });
  }
  return [...out.keys()].sort().map((k) => out.get(k)!);
}

/** The mesh settings of an environment; `podNamespaces`: where its pods run (see podNamespaces), for the pods'
 * DNS listener. */
export function meshSettings(mesh: MeshModel, podNamespaces: readonly string[] = []): MeshSettings {
  const podDns = { port: mesh.dnsPort, serviceIP: mesh.serviceIP, namespaces: [...podNamespaces], upstreams: [...mesh.dnsUpstreams] };
  return { domain: mesh.domain, outboundPort: mesh.outboundPort, inboundPort: mesh.inboundPort, podDns };
}

/** The namespaces of the environment's cluster placements, sorted, each once. */
export function podNamespaces(env: EnvironmentModel): string[] {
  return [...new Set(env.placements.flatMap((p) => (p.type === "cluster" ? [p.namespace] : [])))].sort();
}

/** Host name → host group, for the locality of VM instances. */
export function hostGroupsOf(env: EnvironmentModel): Map<string, string> {
  return new Map(env.hostGroups.flatMap((g) => g.hosts.map((h) => [h.name, g.name] as [string, string])));
}

/** The apps placed on each VM host of `env` (`<hostGroup>/<host>` → sorted app names), for the inbound
 * listener of the host's one sidecar. */
export function hostAppsOf(env: EnvironmentModel): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of env.placements) {
    if (p.type !== "hostGroup") continue;
    for (const h of p.hosts) {
      const key = `${p.hostGroup}/${h}`;
      out[key] = [...new Set([...(out[key] ?? []), p.app])].sort();
    }
  }
  return out;
}

/** The version an instance carries: its `version:<v>` tag, else its `amphi-version` meta, else null. */
export function instanceVersion(i: Pick<RegisteredInstance, "tags" | "meta">): string | null {
  const tag = i.tags.find((t) => t.startsWith("version:"));
  return tag ? tag.slice("version:".length) : (i.meta["amphi-version"] ?? null);
}

/** Everything the snapshot is made of. */
export interface SnapshotInput {
  env: string;
  settings: MeshSettings;
  services: ServiceDecl[];
  policies: TrafficPolicy[];
  /** Registry entries by service name (absent: none registered). */
  instances: ReadonlyMap<string, RegisteredInstance[]>;
  hostGroups: ReadonlyMap<string, string>;
  /** The apps on each VM host (hostAppsOf); absent: none. */
  hostApps?: Record<string, string[]>;
}

/** The snapshot: each declared service port with its registry entries (see `onPort`). */
export function meshSnapshot(input: SnapshotInput): MeshSnapshot {
  const policies = new Map(input.policies.map((p) => [p.service, p]));
  const services: MeshService[] = input.services.map((s) => ({
    name: s.name,
    app: s.app,
    ports: s.ports.map((p) => ({
      port: p.port,
      protocol: p.protocol,
      instances: (input.instances.get(s.name) ?? []).filter((i) => onPort(i, p.port, s)).map((i) => meshInstance(i, input.hostGroups)),
    })),
    policy: policies.get(s.name) ?? null,
  }));
  const snapshot: MeshSnapshot = { env: input.env, settings: input.settings, services };
  if (input.hostApps) snapshot.hostApps = input.hostApps;
  return snapshot;
}

/** An entry serves the declared port with its number; an entry on an undeclared port serves a one-port service's
 * port (apps that register themselves may listen elsewhere than the spec says) and no port of a service with more. */
function onPort(i: RegisteredInstance, port: number, s: ServiceDecl): boolean {
  if (i.port === port) return true;
  return s.ports.length === 1 && !s.ports.some((p) => p.port === i.port);
}

function meshInstance(i: RegisteredInstance, hostGroups: ReadonlyMap<string, string>): MeshInstance {
  const host = i.meta["amphi-host"];
  const locality = i.meta["amphi-cluster"] ?? (host !== undefined ? hostGroups.get(host) : undefined) ?? "";
  return { id: i.id, address: i.address, port: i.port, version: instanceVersion(i), locality, passing: i.passing };
}

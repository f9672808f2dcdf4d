// MeshSnapshot → every Envoy resource the control plane serves, by type URL, sorted by name, each with a version
// that is a hash of its content (so a push can tell what changed, and equal snapshots give equal versions); and
// the inbound listeners of rate-limited apps, served per node.
import { canonicalJson } from "../model/canonical-json.js";
import { shortDigest } from "../model/digest.js";
import type { MeshSnapshot } from "./snapshot.js";
import { portClusters, portEndpoints, type Named } from "./clusters.js";
import { apiListeners, portRoutes } from "./proxyless.js";
import { passthroughClusters, sidecarListeners, sidecarRoutes } from "./sidecar.js";
import { appInboundListeners, hostInboundListeners, inboundClusters } from "./inbound.js";
import { podDnsListeners } from "./dns.js";
import { RESOURCE_KINDS, type ResourceBody, type ResourceKind } from "./envoy.js";

/** One resource, ready to serve. */
export interface MeshResource {
  name: string;
  /** Short content hash (of the canonical JSON of `body`). */
  hash: string;
  body: ResourceBody;
  /** Served only to streams that name it (see Named.onlyByName). */
  onlyByName: boolean;
}

/** Every resource of a snapshot, per kind, sorted by name; and the per-app inbound listeners that replace the
 * shared one for the sidecars of apps with a rate limit (see inbound.ts), by app name, and by VM host for host
 * sidecars (`<hostGroup>/<host>`, inbound.ts hostInboundListeners); and the listeners only pod sidecars get on top
 * (the DNS listener, dns.ts; absent or empty: none). */
export type MeshResources = Record<ResourceKind, MeshResource[]> & {
  inboundByApp: ReadonlyMap<string, MeshResource>;
  inboundByHost?: ReadonlyMap<string, MeshResource>;
  podListeners?: readonly MeshResource[];
};

/** Builds every resource of a snapshot: the sidecars' listeners, routes and pass-through clusters; proxyless
 * listeners and routes for gRPC ports; clusters and endpoints for every port. */
export function buildResources(snapshot: MeshSnapshot): MeshResources {
  const out: Record<ResourceKind, Named[]> = { listener: sidecarListeners(snapshot), route: sidecarRoutes(snapshot), cluster: [...passthroughClusters(), ...inboundClusters(snapshot)], endpoint: [] };
  for (const service of snapshot.services) {
    for (const port of service.ports) {
      out.cluster.push(...portClusters(service, port));
      out.endpoint.push(...portEndpoints(service, port));
      if (port.protocol !== "grpc") continue;
      out.listener.push(...apiListeners(service, port, snapshot.settings.domain));
      out.route.push(portRoutes(service, port, snapshot.settings.domain));
    }
  }
  const result = {} as Record<ResourceKind, MeshResource[]>;
  for (const kind of RESOURCE_KINDS) result[kind] = finish(kind, out[kind]);
  const inboundByApp = new Map([...appInboundListeners(snapshot)].map(([app, n]) => [app, finish("listener", [n])[0]!]));
  const inboundByHost = new Map([...hostInboundListeners(snapshot)].map(([host, n]) => [host, finish("listener", [n])[0]!]));
  return { ...result, inboundByApp, inboundByHost, podListeners: finish("listener", podDnsListeners(snapshot)) };
}

function finish(kind: ResourceKind, named: Named[]): MeshResource[] {
  const byName = new Map<string, Named>();
  for (const n of named) {
    if (byName.has(n.name)) throw new Error(`mesh: two ${kind} resources named ${n.name} (two services or ports share a name)`);
    byName.set(n.name, n);
  }
  return [...byName.keys()].sort().map((name) => {
    const n = byName.get(name)!;
    return { name, hash: hashOf(n.body), body: n.body, onlyByName: n.onlyByName === true };
  });
}

/** A short hash of any JSON value (canonical form). */
export function hashOf(value: unknown): string {
  return shortDigest(canonicalJson(value));
}

/** The version of a set of resources: a hash of their names and hashes. */
export function versionOf(resources: readonly MeshResource[]): string {
  return hashOf(resources.map((r) => [r.name, r.hash]));
}


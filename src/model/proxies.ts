// What the xDS control plane knows of its proxies, as it publishes it (ports/mesh.ts ProxyStatusStore) and as the
// mesh runtime's reader hands it to drift: per node id, connected or not since when, and per resource type the
// last version ACKed and NACKed (with the proxy's error, first line). Not a resource: no plan step comes of it.

/** One resource type as one proxy has it. */
export interface ObservedProxyType {
  acked: string | null;
  nacked: string | null;
  /** The proxy's error for `nacked` (first line, at most 300 characters). */
  error: string | null;
}

/** One proxy (Envoy sidecar or proxyless gRPC client) as one control-plane replica saw it. */
export interface ObservedProxy {
  /** The xDS node id (`sidecar~<env>~<app>~<instance>` for sidecars; free for proxyless clients). */
  id: string;
  connected: boolean;
  /** When it connected (connected) or disconnected (not connected), ISO time. */
  since: string;
  /** Per resource type it asked for (`listener`, `route`, `cluster`, `endpoint`). */
  types: Record<string, ObservedProxyType>;
}

/** What a sidecar's xDS node id names: `sidecar~<env>~<app>~<instance>`. */
export interface SidecarNode {
  env: string;
  app: string;
  instance: string;
}

/** The node id a sidecar bootstraps with. */
export function sidecarNodeId(node: SidecarNode): string {
  return `sidecar~${node.env}~${node.app}~${node.instance}`;
}

/** A sidecar's node id read back, or null for any other id (proxyless clients, other formats). */
export function parseSidecarNode(id: string): SidecarNode | null {
  const parts = id.split("~");
  if (parts.length !== 4 || parts[0] !== "sidecar" || parts.slice(1).some((p) => p === "")) return null;
  return { env: parts[1]!, app: parts[2]!, instance: parts[3]! };
}

/** What a VM host's sidecar's node id names: `host~<env>~<hostGroup>~<host>`. One Envoy serves every mesh app
 * on its host, so its id names the host, not an app. */
export interface HostSidecarNode {
  env: string;
  hostGroup: string;
  host: string;
}

/** The node id a VM host's sidecar bootstraps with. */
export function hostSidecarNodeId(node: HostSidecarNode): string {
  return `host~${node.env}~${node.hostGroup}~${node.host}`;
}

/** A VM host sidecar's node id read back, or null for any other id. */
export function parseHostSidecarNode(id: string): HostSidecarNode | null {
  const parts = id.split("~");
  if (parts.length !== 4 || parts[0] !== "host" || parts.slice(1).some((p) => p === "")) return null;
  return { env: parts[1]!, hostGroup: parts[2]!, host: parts[3]! };
}

/** The apps a node id serves in `env`: the app of a pod's sidecar (or a proxyless client named so), every app
 * on the host of a VM host's sidecar (`appsOnHost(group, host)`); empty otherwise (the environment's mesh row
 * holds it). */
export function proxyApps(id: string, env: string, appsOnHost: (hostGroup: string, host: string) => readonly string[]): string[] {
  const app = proxyApp(id, env);
  if (app !== null) return [app];
  const host = parseHostSidecarNode(id);
  return host?.env === env ? [...appsOnHost(host.hostGroup, host.host)] : [];
}

/** The app a node id names, when it follows the sidecar scheme with `env` (proxyless clients named so too);
 * null otherwise (the environment's mesh row holds it). */
export function proxyApp(id: string, env: string): string | null {
  const node = parseSidecarNode(id);
  return node?.env === env ? node.app : null;
}

/** The first line of a proxy's error, at most 300 characters (what reports and records carry). */
export function firstLine(error: string): string {
  const line = (error.split(/\r?\n/)[0] ?? "").trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** Proxies seen by several replicas, one per node id: connected wins (the replica it is connected to tells its
 * versions); else the most recent disconnect. Sorted by id. */
export function mergeProxies(lists: readonly (readonly ObservedProxy[])[]): ObservedProxy[] {
  const byId = new Map<string, ObservedProxy>();
  for (const p of lists.flat()) {
    const had = byId.get(p.id);
    if (!had || (p.connected && !had.connected) || (p.connected === had.connected && p.since > had.since)) byId.set(p.id, p);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// The Envoy test double's clusters: EDS clusters (healthy endpoints from ClusterLoadAssignments, round robin,
// locality and endpoint weights honoured by repetition), ORIGINAL_DST clusters (the connection's recovered
// destination), STATIC clusters without endpoints (a black hole: every connection to one is closed), circuit
// breaker thresholds (connections, pending and active requests; Envoy's defaults 1024),
// and outlier detection (consecutive_5xx and failure percentage → ejection for base_ejection_time × times ejected,
// at most max_ejection_percent of the hosts).
import http from "node:http";
import type http2 from "node:http2";
import { DEFAULT_IDLE_TIMEOUT_MS, durationMs, unwrap } from "./shape.js";
import type { Destination } from "./original-dst.js";

/** One endpoint of a cluster, with its outlier state. */
export interface Host {
  address: string;
  port: number;
  weight: number;
  consecutive5xx: number;
  /** Calls and failures in the current outlier interval. */
  calls: number;
  failures: number;
  ejectedUntil: number;
  timesEjected: number;
  /** Requests in flight to it. */
  active: number;
}

interface Outlier {
  consecutive5xx: number;
  enforcingConsecutive5xx: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  failureThreshold: number;
  enforcingFailure: number;
  failureMinHosts: number;
  failureVolume: number;
}

/** One cluster as the double runs it. */
export interface Cluster {
  name: string;
  body: Record<string, unknown>;
  kind: "EDS" | "ORIGINAL_DST" | "STATIC";
  /** The EDS service name its endpoints come under. */
  serviceName: string;
  connectTimeoutMs: number;
  http2: boolean;
  maxConnections: number;
  maxPending: number;
  maxRequests: number;
  outlier: Outlier | null;
  hosts: Host[];
  rr: number;
  /** Requests in flight, and upstream connections open (tcp_proxy and HTTP). */
  activeRequests: number;
  activeConnections: number;
  agent: http.Agent;
  /** HTTP/2 connections by host (`address:port`), for an http2 cluster. */
  sessions: Map<string, http2.ClientHttp2Session>;
  overflows: number;
}

const DEFAULT_LIMIT = 1024;

/** Builds the runtime of one Cluster resource (hosts are set by EDS, or kept from `before`). */
export function makeCluster(body: Record<string, any>, before: Cluster | undefined): Cluster {
  const t = body.circuit_breakers?.thresholds?.find((x: any) => (x.priority ?? "DEFAULT") === "DEFAULT") ?? {};
  const od = body.outlier_detection;
  const opts = body.typed_extension_protocol_options?.["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
  const maxConnections = unwrap(t.max_connections, DEFAULT_LIMIT);
  const idleMs = durationMs(opts?.common_http_protocol_options?.idle_timeout) ?? DEFAULT_IDLE_TIMEOUT_MS;
  const c: Cluster = {
    name: String(body.name),
    body,
    kind: body.type === "ORIGINAL_DST" || body.type === "STATIC" ? body.type : "EDS",
    serviceName: String(body.eds_cluster_config?.service_name || body.name),
    connectTimeoutMs: durationMs(body.connect_timeout) ?? 5000,
    http2: opts?.explicit_http_config?.http2_protocol_options !== undefined,
    maxConnections,
    maxPending: unwrap(t.max_pending_requests, DEFAULT_LIMIT),
    maxRequests: unwrap(t.max_requests, DEFAULT_LIMIT),
    outlier: od ? outlierOf(od) : null,
    // A changed cluster is a new cluster to Envoy: its hosts start without outlier history.
    hosts: (before?.hosts ?? []).map((h) => freshHost(h.address, h.port, h.weight)),
    rr: 0,
    // Calls in flight on the replaced cluster count there (and are released there), as in Envoy.
    activeRequests: 0,
    activeConnections: 0,
    // common_http_protocol_options.idle_timeout (Envoy: 1 h when unset; 0: none): an idle pooled connection is closed
    // then (the agent's socket timeout is what closes its free sockets).
    agent: new http.Agent({ keepAlive: true, maxSockets: maxConnections, maxFreeSockets: 64, timeout: idleMs }),
    sessions: new Map(),
    overflows: 0,
  };
  if (before) setImmediate(() => retire(before));
  return c;
}

/** Closes a replaced cluster's connections as they become idle: calls in flight finish (Envoy drains the old
 * connection pools; it does not reset them). */
export function retire(c: Cluster): void {
  c.agent.on("free", (socket: { destroy(): void }) => socket.destroy());
  for (const list of Object.values(c.agent.freeSockets)) for (const s of list ?? []) s.destroy();
  // An HTTP/2 session's close() lets its open streams finish.
  for (const s of c.sessions.values()) s.close();
}

function outlierOf(od: any): Outlier {
  return {
    consecutive5xx: unwrap(od.consecutive_5xx, 5),
    enforcingConsecutive5xx: unwrap(od.enforcing_consecutive_5xx, 100),
    intervalMs: durationMs(od.interval) ?? 10_000,
    baseEjectionMs: durationMs(od.base_ejection_time) ?? 30_000,
    maxEjectionPercent: unwrap(od.max_ejection_percent, 10),
    failureThreshold: unwrap(od.failure_percentage_threshold, 85),
    enforcingFailure: unwrap(od.enforcing_failure_percentage, 0),
    failureMinHosts: unwrap(od.failure_percentage_minimum_hosts, 5),
    failureVolume: unwrap(od.failure_percentage_request_volume, 50),
  };
}

/** Sets a cluster's hosts from its ClusterLoadAssignment: healthy (or unknown) endpoints only; a host that stays
 * keeps its outlier state. Locality weights are not applied: Envoy uses them only with a cluster's
 * `locality_weighted_lb_config`, which amphi does not set (hosts are weighed by their own weight). */
export function setEndpoints(cluster: Cluster, cla: Record<string, any> | undefined): void {
  const old = new Map(cluster.hosts.map((h) => [`${h.address}:${h.port}`, h]));
  const hosts: Host[] = [];
  for (const group of cla?.endpoints ?? []) {
    for (const e of group.lb_endpoints ?? []) {
      const status = e.health_status ?? "UNKNOWN";
      if (status !== "HEALTHY" && status !== "UNKNOWN") continue;
      const sa = e.endpoint?.address?.socket_address;
      if (!sa) continue;
      const key = `${sa.address}:${sa.port_value ?? 0}`;
      const h = old.get(key) ?? freshHost(String(sa.address), Number(sa.port_value ?? 0), 1);
      h.weight = unwrap(e.load_balancing_weight, 1);
      hosts.push(h);
    }
  }
  cluster.hosts = hosts;
}

/** A host without history. */
function freshHost(address: string, port: number, weight: number): Host {
  return { address, port, weight, consecutive5xx: 0, calls: 0, failures: 0, ejectedUntil: 0, timesEjected: 0, active: 0 };
}

/** The next host of an EDS cluster (round robin over hosts not ejected, by weight), or null: none healthy. */
export function pickHost(cluster: Cluster, now = Date.now()): Host | null {
  const live = cluster.hosts.filter((h) => h.ejectedUntil <= now);
  if (live.length === 0) return null;
  const ring = live.flatMap((h) => Array<Host>(Math.max(1, Math.min(h.weight, 100))).fill(h));
  return ring[cluster.rr++ % ring.length]!;
}

/** Where a connection of `cluster` goes: a host of an EDS cluster, or the original destination. */
export function target(cluster: Cluster, dst: Destination): Host | null {
  if (cluster.kind === "ORIGINAL_DST") return freshHost(dst.address, dst.port, 1);
  return pickHost(cluster);
}

/** Records the outcome of one call to `host` (`failed`: a 5xx, a connect failure, a reset or a timeout) for
 * outlier detection, ejecting the host when a rule says so. */
export function recordOutcome(cluster: Cluster, host: Host, failed: boolean, now = Date.now()): void {
  const od = cluster.outlier;
  if (!od || cluster.kind !== "EDS") return;
  rollInterval(cluster, od, now);
  host.calls++;
  if (!failed) {
    host.consecutive5xx = 0;
    return;
  }
  host.failures++;
  host.consecutive5xx++;
  if (host.consecutive5xx >= od.consecutive5xx && host.ejectedUntil <= now && Math.random() * 100 < od.enforcingConsecutive5xx) eject(cluster, od, host, now);
}

const intervalStarts = new WeakMap<Cluster, number>();

/** At each interval's end: failure-percentage ejections, and counts start again. */
function rollInterval(cluster: Cluster, od: Outlier, now: number): void {
  const start = intervalStarts.get(cluster) ?? now;
  if (!intervalStarts.has(cluster)) intervalStarts.set(cluster, now);
  if (now - start < od.intervalMs) return;
  intervalStarts.set(cluster, now);
  const enough = cluster.hosts.filter((h) => h.calls >= od.failureVolume);
  if (enough.length >= od.failureMinHosts) {
    for (const h of enough) {
      if (h.ejectedUntil > now) continue;
      if ((h.failures * 100) / h.calls >= od.failureThreshold && Math.random() * 100 < od.enforcingFailure) eject(cluster, od, h, now);
    }
  }
  for (const h of cluster.hosts) {
    h.calls = 0;
    h.failures = 0;
  }
}

function eject(cluster: Cluster, od: Outlier, host: Host, now: number): void {
  const ejected = cluster.hosts.filter((h) => h.ejectedUntil > now).length;
  // Envoy ejects at least one host whatever max_ejection_percent says, and no more than it allows beyond that.
  if (ejected > 0 && ((ejected + 1) * 100) / cluster.hosts.length > od.maxEjectionPercent) return;
  host.timesEjected++;
  host.ejectedUntil = now + od.baseEjectionMs * host.timesEjected;
  host.consecutive5xx = 0;
}

// Clusters and their endpoints: one cluster per service port, plus one per version the policy splits over; each
// cluster's ClusterLoadAssignment holds its passing instances, grouped by locality. Policy parts that belong to the
// calling side's cluster (circuit breaking, outlier detection) are set here.
import { isIP } from "node:net";
import type { Protocol } from "../model/spec.js";
import type { OutlierDetection, TrafficPolicy } from "../model/traffic.js";
import type { MeshInstance, MeshPort, MeshService } from "./snapshot.js";
import { ADS_SOURCE, clusterName, duration, http1Upstream, http2Upstream, wrapped, type ResourceBody } from "./envoy.js";

/** A named resource body. */
export interface Named {
  name: string;
  body: ResourceBody;
  /** Served only to a stream that names it, never to a wildcard subscription (API listeners: Envoy sidecars
   * subscribe to every listener and must not get the proxyless clients' ones). */
  onlyByName?: boolean;
}


/** The versions a service port's calls are split over (weights above 0), sorted; empty: no split. */
export function splitVersions(policy: TrafficPolicy | null): string[] {
  return (policy?.split ?? []).filter((w) => w.weight > 0).map((w) => w.version).sort();
}

/** The clusters of one service port: the whole port, and each split version's subset. */
export function portClusters(service: MeshService, port: MeshPort): Named[] {
  const names = [clusterName(service.name, port.port), ...splitVersions(service.policy).map((v) => clusterName(service.name, port.port, v))];
  return names.map((name) => ({ name, body: clusterBody(name, service.policy, port.protocol) }));
}

/** The endpoints of each cluster of one service port (same names as `portClusters`). */
export function portEndpoints(service: MeshService, port: MeshPort): Named[] {
  const whole = { name: clusterName(service.name, port.port), body: loadAssignment(clusterName(service.name, port.port), port.instances) };
  const subsets = splitVersions(service.policy).map((v) => {
    const name = clusterName(service.name, port.port, v);
    return { name, body: loadAssignment(name, port.instances.filter((i) => i.version === v)) };
  });
  return [whole, ...subsets];
}

function clusterBody(name: string, policy: TrafficPolicy | null, protocol: Protocol): ResourceBody {
  const body: ResourceBody = {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: ADS_SOURCE, service_name: name },
    lb_policy: "ROUND_ROBIN",
  };
  // gRPC is HTTP/2: a sidecar must speak it upstream (gRPC clients ignore this). HTTP/1.1 pools close idle
  // connections before the app does.
  if (protocol === "grpc") body["typed_extension_protocol_options"] = http2Upstream();
  else if (protocol === "http") body["typed_extension_protocol_options"] = http1Upstream();
  const cb = policy?.circuitBreaker;
  if (cb) {
    const t: ResourceBody = { priority: "DEFAULT" };
    if (cb.maxConnections !== null) t["max_connections"] = wrapped(cb.maxConnections);
    if (cb.maxPendingRequests !== null) t["max_pending_requests"] = wrapped(cb.maxPendingRequests);
    if (cb.maxRequests !== null) t["max_requests"] = wrapped(cb.maxRequests);
    body["circuit_breakers"] = { thresholds: [t] };
  }
  const od = policy?.outlierDetection;
  if (od) body["outlier_detection"] = outlierDetection(od);
  return body;
}

/** Outlier detection for both kinds of client. Envoy sidecars apply `consecutive_5xx` as written. gRPC clients
 * (gRFC A50) implement only the success-rate and failure-percentage rules and ignore `consecutive_5xx`, so the
 * policy also sets failure percentage, derived from it: every interval, an instance with at least `consecutive5xx`
 * calls in it (the evidence the consecutive rule needs) of which more than half failed is ejected (enforcing 100 %),
 * provided at least two instances had that many calls (ejecting a service's only instance helps no caller).
 * Envoy applies this rule too: an instance failing most of its calls is ejected by either rule, never kept. The
 * success-rate rule, on by default in Envoy and gRPC, is off: it ejects on its own statistical terms. */
export function outlierDetection(od: OutlierDetection): ResourceBody {
  return {
    consecutive_5xx: wrapped(od.consecutive5xx),
    interval: duration(od.intervalMs),
    base_ejection_time: duration(od.ejectionTimeMs),
    max_ejection_percent: wrapped(od.maxEjectionPercent),
    enforcing_success_rate: wrapped(0),
    failure_percentage_threshold: wrapped(FAILURE_PERCENTAGE_THRESHOLD),
    enforcing_failure_percentage: wrapped(100),
    failure_percentage_minimum_hosts: wrapped(2),
    failure_percentage_request_volume: wrapped(od.consecutive5xx),
  };
}

/** Failures above this percent of an instance's calls in one interval eject it (gRPC's rule; Envoy's too). */
export const FAILURE_PERCENTAGE_THRESHOLD = 50;

/** Passing instances with an IP address only, one group per locality, sorted so equal registries give equal bytes. */
function loadAssignment(name: string, instances: MeshInstance[]): ResourceBody {
  const byLocality = new Map<string, MeshInstance[]>();
  const seen = new Set<string>();
  for (const i of instances.filter((x) => x.passing).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    // One address twice (two registrations of one instance) is one endpoint: clients reject duplicates. A name
    // instead of an IP (a Consul node address can be one) is no endpoint: Envoy and gRPC reject the whole set.
    if (seen.has(`${i.address}:${i.port}`) || isIP(i.address) === 0) continue;
    seen.add(`${i.address}:${i.port}`);
    byLocality.set(i.locality, [...(byLocality.get(i.locality) ?? []), i]);
  }
  const endpoints = [...byLocality.keys()].sort().map((locality) => ({
    locality: { zone: locality },
    // gRPC ignores localities without a weight, and Envoy needs all or none: every locality weighs its instance count.
    load_balancing_weight: wrapped(byLocality.get(locality)!.length),
    lb_endpoints: byLocality
      .get(locality)!
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port))
      .map((i) => ({
        endpoint: { address: { socket_address: { address: i.address, port_value: i.port } } },
        health_status: "HEALTHY",
        load_balancing_weight: wrapped(1),
      })),
  }));
  return { cluster_name: name, endpoints };
}

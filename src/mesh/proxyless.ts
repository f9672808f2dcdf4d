// Resources for proxyless gRPC clients (`xds:///billing:9100`): per gRPC service port, API listeners named
// `<service>:<port>` and `<service>.<domain>:<port>` whose HttpConnectionManager takes its routes over ADS, and one
// RouteConfiguration with a virtual host per name. Route-level policy (split, timeout, retries) is set here.
import type { Protocol } from "../model/spec.js";
import type { RetryOn, TrafficPolicy } from "../model/traffic.js";
import type { MeshPort, MeshService } from "./snapshot.js";
import { splitVersions, type Named } from "./clusters.js";
import { ADS_SOURCE, HCM_TYPE_URL, ROUTER_TYPE_URL, clusterName, duration, listenerNames, routeName, wrapped, type ResourceBody } from "./envoy.js";

/** The API listeners of one service port. */
export function apiListeners(service: MeshService, port: MeshPort, domain: string): Named[] {
  return listenerNames(service.name, port.port, domain).map((name) => ({
    name,
    onlyByName: true,
    body: {
      name,
      api_listener: {
        api_listener: {
          "@type": HCM_TYPE_URL,
          stat_prefix: name,
          rds: { config_source: ADS_SOURCE, route_config_name: routeName(service.name, port.port) },
          // The router filter must be last (and here it is the only one).
          http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_TYPE_URL } }],
        },
      },
    },
  }));
}

/** The route configuration of one service port: a virtual host per name it is called by. */
export function portRoutes(service: MeshService, port: MeshPort, domain: string): Named {
  const name = routeName(service.name, port.port);
  const action = routeAction(service.name, port.port, service.policy, port.protocol);
  const virtualHosts = listenerNames(service.name, port.port, domain).map((host) => ({
    name: host,
    domains: [host],
    routes: [{ match: { prefix: "/" }, route: action }],
  }));
  return { name, body: { name, virtual_hosts: virtualHosts } };
}

/** Where a call goes and how: one cluster or a weighted split over version subsets, timeout, retries. */
export function routeAction(service: string, port: number, policy: TrafficPolicy | null, protocol: Protocol): ResourceBody {
  const action: ResourceBody = {};
  const versions = splitVersions(policy);
  if (versions.length > 0) {
    const weights = new Map((policy?.split ?? []).map((w) => [w.version, w.weight]));
    action["weighted_clusters"] = {
      clusters: versions.map((v) => ({ name: clusterName(service, port, v), weight: wrapped(weights.get(v)!) })),
    };
  } else {
    action["cluster"] = clusterName(service, port);
  }
  if (policy?.timeoutMs != null) {
    action["timeout"] = duration(policy.timeoutMs);
    // gRPC clients take the request deadline from max_stream_duration (gRFC A31), Envoy from `timeout`.
    action["max_stream_duration"] = { max_stream_duration: duration(policy.timeoutMs) };
  }
  const retries = policy?.retries;
  // Zero retries is no retry policy (gRPC rejects num_retries 0).
  if (retries && retries.attempts > 0) {
    const retry: ResourceBody = { retry_on: retryOn(retries.on, protocol).join(","), num_retries: wrapped(retries.attempts) };
    if (retries.perTryTimeoutMs !== null) retry["per_try_timeout"] = duration(retries.perTryTimeoutMs);
    action["retry_policy"] = retry;
  }
  return action;
}

/** HTTP-level conditions whose gRPC counterpart is the status UNAVAILABLE. */
const UNAVAILABLE_LIKE: readonly RetryOn[] = ["5xx", "gateway-error", "connect-failure", "reset"];

/** The retry conditions of a port. On a gRPC port, an HTTP-level condition (`5xx`, the default) also retries
 * `unavailable`: a gRPC error is a status in an HTTP 200 answer, which `5xx` never sees, and gRPC clients read
 * only status names — without it, `retries: {attempts: 2}` would retry nothing for gRPC. */
export function retryOn(on: readonly RetryOn[], protocol: Protocol): RetryOn[] {
  if (protocol !== "grpc" || on.includes("unavailable") || !on.some((c) => UNAVAILABLE_LIKE.includes(c))) return [...on];
  return [...on, "unavailable"];
}

// Envoy v3 vocabulary shared by the builders: type URLs, names of listeners, routes and clusters, and the JSON
// shapes of protobuf well-known types (fields keep the protos' snake_case; Durations are {seconds, nanos};
// wrappers are {value}; an `Any` field carries `@type` and is encoded as that type by the server).

/** The resource types the control plane serves, by xDS type URL. */
export const TYPE_URL = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
} as const;
export type ResourceKind = keyof typeof TYPE_URL;
export type TypeUrl = (typeof TYPE_URL)[ResourceKind];
/** In the order a proxy should receive them on a change: clusters before what routes to them. */
export const RESOURCE_KINDS: readonly ResourceKind[] = ["cluster", "endpoint", "listener", "route"];

export const HCM_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
export const ORIGINAL_DST_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst";
export const TCP_PROXY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";

/** A resource as the builders emit it: plain JSON of the message named by `typeUrl`. */
export type ResourceBody = Record<string, unknown>;

/** Milliseconds as a google.protobuf.Duration. */
export function duration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** A wrapper value (UInt32Value and friends). */
export function wrapped(value: number): { value: number } {
  return { value };
}

/** The names a proxyless gRPC client dials (`xds:///<name>`) for one service port. */
export function listenerNames(service: string, port: number, domain: string): string[] {
  return [`${service}:${port}`, `${service}.${domain}:${port}`];
}

/** The route configuration of one service port (shared by its listeners). */
export function routeName(service: string, port: number): string {
  return `${service}:${port}`;
}

/** The cluster of one service port, or of its instances of one version (a subset for a split). */
export function clusterName(service: string, port: number, version: string | null = null): string {
  return `outbound|${port}|${version ?? ""}|${service}`;
}

/** An ADS config source: the resource comes over the same ADS stream. */
export const ADS_SOURCE = { ads: {}, resource_api_version: "V3" } as const;

const HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/** A cluster's `typed_extension_protocol_options` holding one HttpProtocolOptions. */
function httpOptions(options: ResourceBody): ResourceBody {
  return { [HTTP_OPTIONS_KEY]: { "@type": `type.googleapis.com/${HTTP_OPTIONS_KEY}`, ...options } };
}

/** A cluster's `typed_extension_protocol_options` for HTTP/2 upstream (gRPC). */
export function http2Upstream(): ResourceBody {
  return httpOptions({ explicit_http_config: { http2_protocol_options: {} } });
}

/** How long a sidecar keeps an idle HTTP/1.1 upstream connection pooled. A sidecar's HTTP connections end at an app
 * (the inbound side delivers them at L4), and apps close idle keep-alive connections early: Node's server after 5 s,
 * Apache and uvicorn after 5 s. Pooled for Envoy's default hour, a connection is sooner or later reused just as the
 * app closes it, and that call fails with a 503 "connection termination". Closing first avoids the race; 3 s is what
 * Linkerd's proxy keeps HTTP/1 connections to apps for. */
export const HTTP1_IDLE_TIMEOUT_MS = 3_000;

/** A cluster's `typed_extension_protocol_options` for HTTP/1.1 upstream: idle connections closed after
 * HTTP1_IDLE_TIMEOUT_MS. */
export function http1Upstream(): ResourceBody {
  return httpOptions({
    common_http_protocol_options: { idle_timeout: duration(HTTP1_IDLE_TIMEOUT_MS) },
    explicit_http_config: { http_protocol_options: {} },
  });
}

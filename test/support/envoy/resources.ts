// The xDS subset the Envoy test double implements, as shapes (see shape.ts): exactly the listeners, routes,
// clusters and endpoints amphi's control plane emits for sidecars (src/mesh/sidecar.ts, inbound.ts, clusters.ts,
// proxyless.ts route actions), and the UDP DNS listener of pod sidecars. Anything else is NACKed.
import { checkShape, anyOf, DURATION, oneOf, WRAPPED, type Shape } from "./shape.js";

export const T = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  originalDst: "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
  hcm: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  tcpProxy: "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  localRateLimit: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  httpOptions: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  dnsFilter: "type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig",
  cares: "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
} as const;

const SOCKET_ADDRESS: Shape = { socket_address: { address: "string", port_value: "number", protocol: oneOf("TCP", "UDP") } };
const ADS_SOURCE: Shape = { ads: {}, resource_api_version: oneOf("V3") };
const PERCENT: Shape = { default_value: { numerator: "number", denominator: oneOf("HUNDRED", "TEN_THOUSAND", "MILLION") }, runtime_key: "string" };

const ROUTE_ACTION: Shape = {
  cluster: "string",
  weighted_clusters: { clusters: [{ name: "string", weight: WRAPPED }], total_weight: WRAPPED },
  timeout: DURATION,
  // For gRPC clients (gRFC A31); a sidecar takes the deadline from `timeout`, which amphi sets alongside.
  max_stream_duration: { max_stream_duration: DURATION },
  retry_policy: { retry_on: "string", num_retries: WRAPPED, per_try_timeout: DURATION },
};

/** A RouteConfiguration. */
export const ROUTE_CONFIG: Shape = {
  name: "string",
  virtual_hosts: [{ name: "string", domains: ["string"], routes: [{ name: "string", match: { prefix: "string" }, route: ROUTE_ACTION }] }],
};

const HTTP_FILTER: Shape = {
  name: "string",
  typed_config: anyOf({
    [T.router]: {},
    [T.localRateLimit]: {
      stat_prefix: "string",
      token_bucket: { max_tokens: "number", tokens_per_fill: WRAPPED, fill_interval: DURATION },
      filter_enabled: PERCENT,
      filter_enforced: PERCENT,
      rate_limited_as_resource_exhausted: "bool",
    },
  }),
};

const NETWORK_FILTER: Shape = {
  name: "string",
  typed_config: anyOf({
    [T.tcpProxy]: { stat_prefix: "string", cluster: "string" },
    [T.hcm]: {
      stat_prefix: "string",
      codec_type: oneOf("AUTO", "HTTP1", "HTTP2"),
      rds: { config_source: ADS_SOURCE, route_config_name: "string" },
      route_config: ROUTE_CONFIG,
      http_filters: [HTTP_FILTER],
      common_http_protocol_options: { idle_timeout: DURATION },
    },
  }),
};

const FILTER_CHAIN: Shape = { name: "string", filter_chain_match: { destination_port: WRAPPED }, filters: [NETWORK_FILTER] };

const DNS_FILTER: Shape = {
  stat_prefix: "string",
  server_config: { inline_dns_table: { virtual_domains: [{ name: "string", endpoint: { address_list: { address: ["string"] } }, answer_ttl: DURATION }] } },
  client_config: {
    resolver_timeout: DURATION,
    max_pending_lookups: "number",
    typed_dns_resolver_config: {
      name: "string",
      typed_config: anyOf({ [T.cares]: { resolvers: [SOCKET_ADDRESS], use_resolvers_as_fallback: "bool", dns_resolver_options: { no_default_search_domain: "bool" } } }),
    },
  },
};

/** A Listener: TCP with filter chains, or UDP with the DNS filter. */
export const LISTENER: Shape = {
  name: "string",
  address: SOCKET_ADDRESS,
  listener_filters: [{ name: "string", typed_config: anyOf({ [T.originalDst]: {}, [T.dnsFilter]: DNS_FILTER }) }],
  filter_chains: [FILTER_CHAIN],
  default_filter_chain: FILTER_CHAIN,
  udp_listener_config: {},
  traffic_direction: oneOf("INBOUND", "OUTBOUND", "UNSPECIFIED"),
};

const THRESHOLDS: Shape = { priority: oneOf("DEFAULT"), max_connections: WRAPPED, max_pending_requests: WRAPPED, max_requests: WRAPPED };

/** A Cluster: EDS (round robin), ORIGINAL_DST, or STATIC without endpoints (a black hole: no load_assignment). */
export const CLUSTER: Shape = {
  name: "string",
  type: oneOf("EDS", "ORIGINAL_DST", "STATIC"),
  eds_cluster_config: { eds_config: ADS_SOURCE, service_name: "string" },
  lb_policy: oneOf("ROUND_ROBIN", "CLUSTER_PROVIDED"),
  connect_timeout: DURATION,
  typed_extension_protocol_options: anyOfMap({ [T.httpOptions]: { common_http_protocol_options: { idle_timeout: DURATION }, explicit_http_config: { http2_protocol_options: {}, http_protocol_options: {} } } }),
  circuit_breakers: { thresholds: [THRESHOLDS] },
  outlier_detection: {
    consecutive_5xx: WRAPPED,
    interval: DURATION,
    base_ejection_time: DURATION,
    max_ejection_percent: WRAPPED,
    enforcing_consecutive_5xx: WRAPPED,
    enforcing_success_rate: WRAPPED,
    failure_percentage_threshold: WRAPPED,
    enforcing_failure_percentage: WRAPPED,
    failure_percentage_minimum_hosts: WRAPPED,
    failure_percentage_request_volume: WRAPPED,
  },
};

/** A ClusterLoadAssignment. */
export const ENDPOINTS: Shape = {
  cluster_name: "string",
  endpoints: [
    {
      locality: { region: "string", zone: "string", sub_zone: "string" },
      load_balancing_weight: WRAPPED,
      lb_endpoints: [{ endpoint: { address: SOCKET_ADDRESS }, health_status: oneOf("HEALTHY", "UNKNOWN", "UNHEALTHY", "DRAINING"), load_balancing_weight: WRAPPED }],
    },
  ],
};

/** The shape of each resource type. */
export const RESOURCE_SHAPES: Record<string, Shape> = { [T.listener]: LISTENER, [T.route]: ROUTE_CONFIG, [T.cluster]: CLUSTER, [T.endpoint]: ENDPOINTS };

/** A map keyed by extension name whose values are `Any`s of the given types. */
function anyOfMap(types: Record<string, Shape>): Shape {
  const any = anyOf(types);
  return (v, path) => (v === null || typeof v !== "object" ? [`${path}: expected a map`] : Object.entries(v as object).flatMap(([k, x]) => any(x, `${path}[${k}]`)));
}

/** Problems of one decoded resource of type `typeUrl`; also what the double needs that the shape cannot say. */
export function resourceProblems(typeUrl: string, body: Record<string, unknown>, name: string): string[] {
  const shape = RESOURCE_SHAPES[typeUrl];
  if (!shape) return [`${typeUrl}: resource type not implemented by the Envoy test double`];
  const out = checkShape(shape, body, name);
  if (typeUrl === T.listener && !body["address"]) out.push(`${name}: a listener without an address (api_listener) is not implemented by the Envoy test double`);
  if (typeUrl === T.cluster && body["type"] === "EDS" && body["lb_policy"] === "CLUSTER_PROVIDED") out.push(`${name}: an EDS cluster with lb_policy CLUSTER_PROVIDED is invalid`);
  if (typeUrl === T.cluster && body["type"] === "ORIGINAL_DST" && body["lb_policy"] !== "CLUSTER_PROVIDED") out.push(`${name}: an ORIGINAL_DST cluster needs lb_policy CLUSTER_PROVIDED`);
  return out;
}

// Resources for Envoy sidecars (pods and VM hosts alike; served to wildcard LDS/CDS subscribers). Capture sends
// calls to the one mesh IP to the outbound listener on `mesh.outboundPort`: a filter chain per destination port;
// on a port with http/grpc services an HttpConnectionManager routes by Host/`:authority` (virtual hosts `name`,
// `name:port`, `name.<domain>`, `name.<domain>:port`); a tcp service is told by its port alone; anything else
// passes through to its original destination. The inbound listener on `mesh.inboundPort` delivers to the local
// app port by original destination. A connection made straight to either listener's own port (a port scan, a
// probe that connects: not redirected to it by capture) has the listener itself as its original destination, so
// passing it through would connect to the listener again, and again: each listener closes those at once instead,
// through a cluster without endpoints (Istio's virtualOutbound/virtualInbound "blackhole" chains do the same).
import type { MeshSnapshot } from "./snapshot.js";
import type { Named } from "./clusters.js";
import { routeAction } from "./proxyless.js";
import { ADS_SOURCE, HCM_TYPE_URL, ORIGINAL_DST_TYPE_URL, ROUTER_TYPE_URL, TCP_PROXY_TYPE_URL, duration, http1Upstream, http2Upstream, wrapped, type ResourceBody } from "./envoy.js";

export const OUTBOUND_LISTENER = "amphi_outbound";
export const INBOUND_LISTENER = "amphi_inbound";
export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const INBOUND_CLUSTER = "InboundPassthroughCluster";
/** A cluster without endpoints: a connection sent to it is closed. */
export const BLACKHOLE_CLUSTER = "BlackHoleCluster";

/** The route configuration of the outbound HTTP chain of one port. */
export function outboundRouteName(port: number): string {
  return `outbound_${port}`;
}

interface PortUse {
  http: string[];
  tcp: string[];
}

/** Which services listen on each port, by protocol family, sorted. */
function portsInUse(snapshot: MeshSnapshot): Map<number, PortUse> {
  const out = new Map<number, PortUse>();
  for (const s of [...snapshot.services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const p of s.ports) {
      const use = out.get(p.port) ?? { http: [], tcp: [] };
      (p.protocol === "tcp" ? use.tcp : use.http).push(s.name);
      out.set(p.port, use);
    }
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

/** The sidecar listeners: outbound and inbound. */
export function sidecarListeners(snapshot: MeshSnapshot): Named[] {
  const chains: ResourceBody[] = [];
  for (const [port, use] of portsInUse(snapshot)) {
    // On a port with http/grpc services, Host decides; a tcp service there cannot be told apart and gets no chain
    // (config validation names such collisions). Of two tcp services on one port only the first (by name) does.
    const filter = use.http.length > 0 ? hcmFilter(outboundRouteName(port)) : tcpFilter(`outbound_${port}`, `outbound|${port}||${use.tcp[0]}`);
    chains.push({ name: `outbound_${port}`, filter_chain_match: { destination_port: wrapped(port) }, filters: [filter] });
  }
  const outbound = {
    name: OUTBOUND_LISTENER,
    address: socket("0.0.0.0", snapshot.settings.outboundPort),
    listener_filters: [originalDst()],
    filter_chains: closingOwnPort(chains, "outbound_blackhole", snapshot.settings.outboundPort),
    default_filter_chain: { name: "passthrough", filters: [tcpFilter("outbound_passthrough", PASSTHROUGH_CLUSTER)] },
  };
  return [
    { name: OUTBOUND_LISTENER, body: outbound },
    { name: INBOUND_LISTENER, body: inboundListener(snapshot.settings.inboundPort) },
  ];
}

/** The inbound listener: `chains` by destination port (rate limits, see inbound.ts), connections straight to its
 * own port closed, else delivery untouched. */
export function inboundListener(port: number, chains: ResourceBody[] = []): ResourceBody {
  const body: ResourceBody = { name: INBOUND_LISTENER, address: socket("0.0.0.0", port), listener_filters: [originalDst()] };
  body["filter_chains"] = closingOwnPort(chains, "inbound_blackhole", port);
  body["default_filter_chain"] = { name: "inbound", filters: [tcpFilter("inbound", INBOUND_CLUSTER)] };
  return body;
}

/** `chains` and a last one, `name`, closing the connections whose destination is the listener's own `port` (see the
 * header); not where a chain already matches that port (a service or app on it, possible only without capture:
 * config validation refuses it with capture on), as two chains may not match the same. */
function closingOwnPort(chains: ResourceBody[], name: string, port: number): ResourceBody[] {
  const taken = chains.some((c) => (c["filter_chain_match"] as { destination_port?: { value?: number } } | undefined)?.destination_port?.value === port);
  return taken ? chains : [...chains, { name, filter_chain_match: { destination_port: wrapped(port) }, filters: [tcpFilter(name, BLACKHOLE_CLUSTER)] }];
}

/** The outbound route configurations: per port with http/grpc services, a virtual host per service. */
export function sidecarRoutes(snapshot: MeshSnapshot): Named[] {
  const byName = new Map(snapshot.services.map((s) => [s.name, s]));
  const protocolOf = (name: string, port: number) => byName.get(name)!.ports.find((p) => p.port === port)!.protocol;
  const out: Named[] = [];
  for (const [port, use] of portsInUse(snapshot)) {
    if (use.http.length === 0) continue;
    const virtualHosts = use.http.map((name) => ({
      name: `${name}:${port}`,
      domains: [name, `${name}:${port}`, `${name}.${snapshot.settings.domain}`, `${name}.${snapshot.settings.domain}:${port}`],
      routes: [{ match: { prefix: "/" }, route: routeAction(name, port, byName.get(name)!.policy, protocolOf(name, port)) }],
    }));
    out.push({ name: outboundRouteName(port), body: { name: outboundRouteName(port), virtual_hosts: virtualHosts } });
  }
  return out;
}

/** The clusters of the listeners' own chains: the ones sending to the original destination (outbound
 * pass-through, inbound delivery) and the black hole (a STATIC cluster without endpoints, as Istio's). */
export function passthroughClusters(): Named[] {
  return [
    { name: BLACKHOLE_CLUSTER, body: { name: BLACKHOLE_CLUSTER, type: "STATIC", connect_timeout: duration(10_000) } },
    { name: INBOUND_CLUSTER, body: originalDstCluster(INBOUND_CLUSTER) },
    { name: PASSTHROUGH_CLUSTER, body: originalDstCluster(PASSTHROUGH_CLUSTER) },
  ];
}

/** A cluster sending to the original destination; `http2`: speaking HTTP/2 upstream (gRPC), else HTTP/1.1 when an
 * HTTP chain uses it (tcp_proxy ignores the protocol options). */
export function originalDstCluster(name: string, http2 = false): ResourceBody {
  const body: ResourceBody = { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: duration(10_000) };
  body["typed_extension_protocol_options"] = http2 ? http2Upstream() : http1Upstream();
  return body;
}

function hcmFilter(routeConfigName: string): ResourceBody {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": HCM_TYPE_URL,
      stat_prefix: routeConfigName,
      rds: { config_source: ADS_SOURCE, route_config_name: routeConfigName },
      http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_TYPE_URL } }],
    },
  };
}

function tcpFilter(statPrefix: string, cluster: string): ResourceBody {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: statPrefix, cluster } };
}

function originalDst(): ResourceBody {
  return { name: "envoy.filters.listener.original_dst", typed_config: { "@type": ORIGINAL_DST_TYPE_URL } };
}

function socket(address: string, port: number): ResourceBody {
  return { socket_address: { address, port_value: port } };
}

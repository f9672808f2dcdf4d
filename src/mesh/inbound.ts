// Per-node resources of Envoy sidecars: the inbound listener of a sidecar whose app has a service with a local
// rate limit. A sidecar's node id names its environment, app and instance (`sidecar~<env>~<app>~<instance>`); the
// server serves such a node its app's inbound listener in place of the shared one (same name, same port). On it,
// each http/grpc port of a rate-limited service gets a filter chain (by original destination port) whose
// HttpConnectionManager runs `envoy.filters.http.local_ratelimit` — a token bucket per sidecar, so per instance:
// `burst` tokens, `requests` more every `per` — before the router, which delivers to the original destination
// (HTTP/2 upstream for grpc). Calls over the limit get 429 (gRPC: RESOURCE_EXHAUSTED). Other ports pass through.
// A `tcp` port has no HTTP requests to count and is not limited.
import type { RateLimit } from "../model/traffic.js";
import type { MeshService, MeshSnapshot } from "./snapshot.js";
import type { Named } from "./clusters.js";
import { HCM_TYPE_URL, ROUTER_TYPE_URL, duration, wrapped, type ResourceBody } from "./envoy.js";
import { INBOUND_CLUSTER, INBOUND_LISTENER, inboundListener, originalDstCluster } from "./sidecar.js";

export const LOCAL_RATELIMIT_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
/** Delivers inbound gRPC calls to the local app over HTTP/2. */
export const INBOUND_H2_CLUSTER = "InboundPassthroughClusterH2";

/** What a sidecar's node id says: the environment, app and instance it serves. */
/** The app of a service (a service without one belongs to the app of its name). */
export function appOf(service: MeshService): string {
  return service.app ?? service.name;
}

/** Per VM host (`<hostGroup>/<host>`, snapshot.hostApps) with a rate-limited app: the inbound listener of its one
 * sidecar, with the limited chains of every app on the host (two apps on one port cannot be: validation refuses
 * it; the first app by name would decide). A host sidecar's node id (`host~<env>~<group>~<host>`) gets it. */
export function hostInboundListeners(snapshot: MeshSnapshot): Map<string, Named> {
  const byApp = limitedChainsByApp(snapshot);
  const out = new Map<string, Named>();
  for (const [host, apps] of Object.entries(snapshot.hostApps ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const chains = new Map<number, ResourceBody>();
    for (const app of [...apps].sort()) for (const [port, chain] of byApp.get(app) ?? []) if (!chains.has(port)) chains.set(port, chain);
    if (chains.size === 0) continue;
    const sorted = [...chains.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    out.set(host, { name: INBOUND_LISTENER, body: inboundListener(snapshot.settings.inboundPort, sorted) });
  }
  return out;
}

/** Per app with a rate-limited http/grpc port: its inbound listener, by app name (sorted). */
export function appInboundListeners(snapshot: MeshSnapshot): Map<string, Named> {
  const chainsByApp = limitedChainsByApp(snapshot);
  const out = new Map<string, Named>();
  for (const app of [...chainsByApp.keys()].sort()) {
    const chains = [...chainsByApp.get(app)!.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    out.set(app, { name: INBOUND_LISTENER, body: inboundListener(snapshot.settings.inboundPort, chains) });
  }
  return out;
}

/** Per app: its rate-limited chains by port. */
function limitedChainsByApp(snapshot: MeshSnapshot): Map<string, Map<number, ResourceBody>> {
  const chainsByApp = new Map<string, Map<number, ResourceBody>>();
  for (const s of [...snapshot.services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const limit = s.policy?.rateLimit;
    if (!limit) continue;
    for (const p of s.ports) {
      if (p.protocol === "tcp") continue;
      const chains = chainsByApp.get(appOf(s)) ?? new Map<number, ResourceBody>();
      // Two services of one app on one port: the first (by name) decides.
      if (!chains.has(p.port)) chains.set(p.port, limitedChain(p.port, limit, p.protocol === "grpc"));
      chainsByApp.set(appOf(s), chains);
    }
  }
  return chainsByApp;
}

/** The clusters the rate-limited inbound chains need beyond the shared ones: HTTP/2 delivery, when a grpc port is limited. */
export function inboundClusters(snapshot: MeshSnapshot): Named[] {
  const grpcLimited = snapshot.services.some((s) => s.policy?.rateLimit && s.ports.some((p) => p.protocol === "grpc"));
  return grpcLimited ? [{ name: INBOUND_H2_CLUSTER, body: originalDstCluster(INBOUND_H2_CLUSTER, true) }] : [];
}

/** The token bucket of a policy's rate limit: `burst` tokens, refilled with `requests` every `per`. */
export function localRateLimit(statPrefix: string, limit: RateLimit, grpc: boolean): ResourceBody {
  const always = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: `${statPrefix}_enabled` };
  const body: ResourceBody = {
    "@type": LOCAL_RATELIMIT_TYPE_URL,
    stat_prefix: statPrefix,
    token_bucket: { max_tokens: limit.burst, tokens_per_fill: wrapped(limit.requests), fill_interval: duration(limit.intervalMs) },
    // Without these two the filter is present but neither counts nor refuses (Envoy's default is 0 %).
    filter_enabled: always,
    filter_enforced: { ...always, runtime_key: `${statPrefix}_enforced` },
  };
  if (grpc) body["rate_limited_as_resource_exhausted"] = true;
  return body;
}

function limitedChain(port: number, limit: RateLimit, grpc: boolean): ResourceBody {
  const prefix = `inbound_${port}`;
  return {
    name: prefix,
    filter_chain_match: { destination_port: wrapped(port) },
    filters: [
      {
        name: "envoy.filters.network.http_connection_manager",
        typed_config: {
          "@type": HCM_TYPE_URL,
          stat_prefix: prefix,
          route_config: {
            name: prefix,
            virtual_hosts: [{ name: prefix, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: grpc ? INBOUND_H2_CLUSTER : INBOUND_CLUSTER, timeout: duration(0) } }] }],
          },
          http_filters: [
            { name: "envoy.filters.http.local_ratelimit", typed_config: localRateLimit(`${prefix}_ratelimit`, limit, grpc) },
            { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_TYPE_URL } },
          ],
        },
      },
    ],
  };
}

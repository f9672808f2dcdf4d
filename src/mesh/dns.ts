// Mesh names inside pods: a UDP listener with Envoy's DNS filter (envoy.extensions.filters.udp.dns_filter.v3), served
// only to pod sidecars (node metadata `runtime: k8s`; VM hosts run mesh-dns on the same port instead). The capture
// rules send every DNS query of the pod (port 53, all but the proxy uid) to 127.0.0.1:<mesh.dnsPort>, where this
// listener answers every mesh name with the mesh IP from an inline table and forwards the rest upstream.
//
// The table holds, per service: `name`, `name.<domain>`, and each of them under the suffixes a pod's resolver tries
// first (ndots:5 and the search path `<ns>.svc.cluster.local svc.cluster.local cluster.local`): without those,
// `billing` would first be asked as `billing.<ns>.svc.cluster.local`, which the cluster DNS answers with the
// Kubernetes Service's ClusterIP when there is one (amphi renders one per service), bypassing the mesh.
// The cluster domain is Kubernetes' default, `cluster.local`.
//
// Other names go to the resolver Envoy itself has: the pod's /etc/resolv.conf (the cluster DNS), Envoy's default
// c-ares resolver. With `mesh.dnsUpstreams` set they are named as c-ares fallback resolvers (only used when the
// pod has none), which lets amphi also switch off c-ares' own search-domain expansion: the names a client
// forwards are already expanded by its own resolver. (c-ares' config requires at least one resolver, so without
// dnsUpstreams Envoy's default resolver, with its search domains, is used.)
//
// Pods keep Kubernetes' dnsPolicy (ClusterFirst) and get no dnsConfig: capture redirects port 53 whatever
// nameserver resolv.conf names, and the search path and ndots stay what the cluster's other pods have (the table
// covers the suffixes that search path adds), so the apps' behaviour for non-mesh names does not change.
import type { Named } from "./clusters.js";
import { duration, type ResourceBody } from "./envoy.js";
import type { MeshSnapshot, PodDnsSettings } from "./snapshot.js";

export const DNS_LISTENER = "amphi_dns";
export const DNS_FILTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig";
const CARES_TYPE_URL = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";
/** The Kubernetes cluster domain pods' search paths end in (the kubelet's default). */
export const CLUSTER_DOMAIN = "cluster.local";

/** The search-path suffixes of pods in `namespaces`: `<ns>.svc.<cd>` each, `svc.<cd>`, `<cd>`. */
export function podSearchSuffixes(namespaces: readonly string[]): string[] {
  const perNs = [...new Set(namespaces)].sort().map((ns) => `${ns}.svc.${CLUSTER_DOMAIN}`);
  return [...perNs, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];
}

/** Every name the DNS listener answers with the mesh IP, sorted. */
export function podDnsNames(snapshot: MeshSnapshot, dns: PodDnsSettings): string[] {
  const suffixes = podSearchSuffixes(dns.namespaces);
  const names = new Set<string>();
  for (const s of snapshot.services) {
    for (const base of [s.name, `${s.name}.${snapshot.settings.domain}`]) {
      names.add(base);
      for (const suffix of suffixes) names.add(`${base}.${suffix}`);
    }
  }
  return [...names].sort();
}

/** The pods' DNS listener, or none when the snapshot's settings have no podDns. */
export function podDnsListeners(snapshot: MeshSnapshot): Named[] {
  const dns = snapshot.settings.podDns;
  if (!dns) return [];
  const table = { virtual_domains: podDnsNames(snapshot, dns).map((name) => ({ name, endpoint: { address_list: { address: [dns.serviceIP] } } })) };
  const filter = {
    name: "envoy.filters.udp.dns_filter",
    typed_config: { "@type": DNS_FILTER_TYPE_URL, stat_prefix: DNS_LISTENER, server_config: { inline_dns_table: table }, client_config: clientConfig(dns) },
  };
  const body: ResourceBody = {
    name: DNS_LISTENER,
    address: { socket_address: { protocol: "UDP", address: "127.0.0.1", port_value: dns.port } },
    listener_filters: [filter],
  };
  return [{ name: DNS_LISTENER, body }];
}

function clientConfig(dns: PodDnsSettings): ResourceBody {
  // max_pending_lookups must be set: protoc-gen-validate checks `gte: 1` on the proto3 scalar's zero value too.
  const out: ResourceBody = { resolver_timeout: duration(2000), max_pending_lookups: 256 };
  if (dns.upstreams.length === 0) return out;
  out["typed_dns_resolver_config"] = {
    name: "envoy.network.dns_resolver.cares",
    typed_config: {
      "@type": CARES_TYPE_URL,
      resolvers: dns.upstreams.map((address) => ({ socket_address: { address, port_value: 53 } })),
      use_resolvers_as_fallback: true,
      dns_resolver_options: { no_default_search_domain: true },
    },
  };
  return out;
}

// The pods' DNS listener (src/mesh/dns.ts): Envoy's DNS filter on 127.0.0.1:<dnsPort>, UDP, answering every mesh
// name (as written, with the mesh domain, and under every suffix of a pod's search path) with the mesh IP, and
// forwarding the rest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildResources, DNS_FILTER_TYPE_URL, meshSettings, podDnsListeners, podSearchSuffixes, type MeshSnapshot } from "../../src/mesh/index.js";
import { fixtureEnvironment } from "../support/model-fixture.js";
import { podNamespaces } from "../../src/mesh/registry.js";
import { plainSnapshot } from "./snapshots.js";

type Obj = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- resource JSON

function withPodDns(upstreams: string[]): MeshSnapshot {
  const s = plainSnapshot();
  return { ...s, settings: { ...s.settings, podDns: { port: 15053, serviceIP: "10.255.0.1", namespaces: ["shop", "apps", "shop"], upstreams } } };
}

describe("pods' DNS listener", () => {
  it("listens on 127.0.0.1:<dnsPort> over UDP with the DNS filter", () => {
    const [l] = podDnsListeners(withPodDns([]));
    const body = l!.body as Obj;
    assert.equal(l!.name, "amphi_dns");
    assert.deepEqual(body.address, { socket_address: { protocol: "UDP", address: "127.0.0.1", port_value: 15053 } });
    assert.equal(body.listener_filters[0].name, "envoy.filters.udp.dns_filter");
    assert.equal(body.listener_filters[0].typed_config["@type"], DNS_FILTER_TYPE_URL);
  });

  it("answers every mesh name, with the domain and under the pods' search suffixes, with the mesh IP", () => {
    const table = (podDnsListeners(withPodDns([]))[0]!.body as Obj).listener_filters[0].typed_config.server_config.inline_dns_table;
    const names = table.virtual_domains.map((d: Obj) => d.name) as string[];
    for (const n of ["billing", "billing.mesh.internal", "web", "billing.shop.svc.cluster.local", "billing.apps.svc.cluster.local", "billing.svc.cluster.local", "billing.cluster.local", "web.mesh.internal.shop.svc.cluster.local"]) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(" ")}`);
    }
    assert.equal(names.length, 2 * 2 * (1 + 4), "2 services × (name, name.domain) × (as is + 4 suffixes)");
    assert.deepEqual([...names].sort(), names, "sorted: same snapshot, same bytes");
    for (const d of table.virtual_domains) assert.deepEqual(d.endpoint, { address_list: { address: ["10.255.0.1"] } });
    assert.deepEqual(podSearchSuffixes(["shop", "apps"]), ["apps.svc.cluster.local", "shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
  });

  it("forwards other names: to the pod's own resolver, or with dnsUpstreams as c-ares fallbacks without search domains", () => {
    const client = (s: MeshSnapshot) => (podDnsListeners(s)[0]!.body as Obj).listener_filters[0].typed_config.client_config;
    assert.deepEqual(client(withPodDns([])), { resolver_timeout: { seconds: 2, nanos: 0 }, max_pending_lookups: 256 });
    const cares = client(withPodDns(["10.0.0.2", "10.0.0.3"])).typed_dns_resolver_config;
    assert.equal(cares.name, "envoy.network.dns_resolver.cares");
    assert.deepEqual(cares.typed_config.resolvers, [{ socket_address: { address: "10.0.0.2", port_value: 53 } }, { socket_address: { address: "10.0.0.3", port_value: 53 } }]);
    assert.equal(cares.typed_config.use_resolvers_as_fallback, true);
    assert.deepEqual(cares.typed_config.dns_resolver_options, { no_default_search_domain: true });
  });

  it("is a pod-only listener: not among every sidecar's listeners, and absent without podDns", () => {
    const res = buildResources(withPodDns([]));
    assert.deepEqual(res.podListeners!.map((r) => r.name), ["amphi_dns"]);
    assert.ok(!res.listener.some((r) => r.name === "amphi_dns"));
    assert.deepEqual(buildResources(plainSnapshot()).podListeners, []);
  });

  it("takes the environment's dnsPort, mesh IP, upstreams and the namespaces of its cluster placements", () => {
    const env = fixtureEnvironment();
    assert.deepEqual(meshSettings(env.mesh, podNamespaces(env)).podDns, { port: 15053, serviceIP: "10.255.0.1", namespaces: ["shop"], upstreams: ["10.0.0.2"] });
  });
});

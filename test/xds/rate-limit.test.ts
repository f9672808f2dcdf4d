// The inbound local rate limit: a sidecar whose node id names an app with a rate-limited service gets that app's
// inbound listener (a token bucket per http/grpc port, by original destination port); other sidecars and
// proxyless clients get the shared one. Seen through a bare ADS client, decoded with Envoy's protos. (No Envoy
// binary exists here and gRPC's xDS server side has no local_ratelimit filter: the bucket itself is not run.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { INBOUND_H2_CLUSTER, parseSidecarNode, sidecarNodeId, TYPE_URL, type MeshSnapshot } from "../../src/mesh/index.js";
import { RawAds } from "./support/raw-ads.js";
import { inst, policy } from "../mesh/snapshots.js";

function snapshot(limit: { requests: number; intervalMs: number; burst: number } | null): MeshSnapshot {
  return {
    env: "prod",
    settings: { domain: "mesh.internal", outboundPort: 15001, inboundPort: 15006 },
    services: [
      { name: "billing", app: "billing", ports: [{ port: 9100, protocol: "grpc", instances: [inst("b-1", "10.0.0.1", 9100)] }], policy: policy("billing", { rateLimit: limit }) },
      { name: "billing-admin", app: "billing", ports: [{ port: 8081, protocol: "http", instances: [] }, { port: 7000, protocol: "tcp", instances: [] }], policy: policy("billing-admin", { rateLimit: limit && { ...limit, requests: 5 } }) },
      { name: "web", app: "web", ports: [{ port: 8080, protocol: "http", instances: [inst("w-1", "10.0.0.2", 8080)] }], policy: null },
      { name: "search", app: "search", ports: [{ port: 8090, protocol: "http", instances: [] }], policy: policy("search", { rateLimit: limit && { ...limit, requests: 7 } }) },
    ],
    hostApps: { "legacy/vm-1": ["billing", "search", "web"], "legacy/vm-2": ["web"] },
  };
}

/** The inbound listener's rate-limit chains: all but the one closing connections straight to its own port. */
function limits(inbound: Record<string, any>): any[] {
  return inbound["filter_chains"].filter((c: any) => c.name !== "inbound_blackhole");
}

describe("inbound local rate limit, per sidecar node", () => {
  const server = new AdsServer();
  let port = 0;
  const clients: RawAds[] = [];
  const lds = async (node: string) => {
    const c = new RawAds(port, node);
    clients.push(c);
    c.send(TYPE_URL.listener, []);
    const r = await c.next();
    c.send(TYPE_URL.listener, [], { version: r.version_info, nonce: r.nonce });
    return { c, r, inbound: r.resources.find((x) => x["name"] === "amphi_inbound")! };
  };

  before(async () => {
    port = await server.listen("127.0.0.1:0");
    server.setSnapshot(snapshot({ requests: 100, intervalMs: 1000, burst: 20 }));
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it("reads sidecar node ids back, and nothing else", () => {
    assert.equal(sidecarNodeId({ env: "prod", app: "billing", instance: "vm-1" }), "sidecar~prod~billing~vm-1");
    assert.deepEqual(parseSidecarNode("sidecar~prod~billing~vm-1"), { env: "prod", app: "billing", instance: "vm-1" });
    for (const id of ["grpc-client~test", "sidecar~prod~billing", "sidecar~prod~~vm-1", "router~prod~billing~vm-1"]) assert.equal(parseSidecarNode(id), null, id);
  });

  it("serves a rate-limited app's sidecar its own inbound listener: a token bucket per http/grpc port, tcp passes through", async () => {
    const { inbound } = await lds("sidecar~prod~billing~vm-1");
    assert.equal(inbound["address"].socket_address.port_value, 15006);
    const chains = inbound["filter_chains"];
    assert.deepEqual(chains.map((c: any) => c.filter_chain_match.destination_port.value), [8081, 9100, 15006], "http and grpc ports, not tcp 7000; then the listener's own port (closed)");
    assert.equal(chains[2].filters[0].typed_config.cluster, "BlackHoleCluster");
    const [http, grpc] = chains.map((c: any) => c.filters[0].typed_config);
    assert.deepEqual(grpc.http_filters.map((f: any) => f.name), ["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]);
    const rl = grpc.http_filters[0].typed_config;
    assert.deepEqual(rl.token_bucket, { max_tokens: 20, tokens_per_fill: { value: 100 }, fill_interval: { seconds: 1 } });
    assert.equal(rl.filter_enabled.default_value.numerator, 100);
    assert.equal(rl.filter_enforced.default_value.numerator, 100);
    assert.equal(rl.rate_limited_as_resource_exhausted, true);
    assert.equal(grpc.route_config.virtual_hosts[0].routes[0].route.cluster, INBOUND_H2_CLUSTER);
    assert.equal(http.http_filters[0].typed_config.token_bucket.tokens_per_fill.value, 5);
    assert.equal(http.http_filters[0].typed_config.rate_limited_as_resource_exhausted, undefined);
    assert.equal(http.route_config.virtual_hosts[0].routes[0].route.cluster, "InboundPassthroughCluster");
    assert.equal(inbound["default_filter_chain"].filters[0].typed_config.cluster, "InboundPassthroughCluster");
  });

  it("other apps' sidecars and other node ids get the shared inbound listener; CDS carries the HTTP/2 inbound cluster", async () => {
    for (const node of ["sidecar~prod~web~vm-2", "grpc-client~x", "sidecar~prod~unknown~vm-9"]) {
      const { inbound } = await lds(node);
      assert.deepEqual(limits(inbound), [], node);
      assert.equal(inbound["default_filter_chain"].filters[0].typed_config.cluster, "InboundPassthroughCluster");
    }
    const c = new RawAds(port, "sidecar~prod~web~vm-3");
    clients.push(c);
    c.send(TYPE_URL.cluster, []);
    const cds = await c.next();
    const h2 = cds.resources.find((x) => x["name"] === INBOUND_H2_CLUSTER)!;
    assert.equal(h2["type"], "ORIGINAL_DST");
    assert.ok(h2["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options);
  });

  it("a VM host's sidecar (host~<env>~<group>~<host>) gets the limited chains of every app on its host; a host without one the shared listener", async () => {
    const { inbound } = await lds("host~prod~legacy~vm-1");
    const chains = limits(inbound);
    assert.deepEqual(chains.map((c: any) => c.filter_chain_match.destination_port.value), [8081, 8090, 9100], "billing's http and grpc ports and search's");
    const fills = chains.map((c: any) => c.filters[0].typed_config.http_filters[0].typed_config.token_bucket.tokens_per_fill.value);
    assert.deepEqual(fills, [5, 7, 100]);
    const other = await lds("host~prod~legacy~vm-2");
    assert.deepEqual(limits(other.inbound), [], "only web on vm-2: no limit");
    const unknown = await lds("host~prod~legacy~vm-9");
    assert.deepEqual(limits(unknown.inbound), []);
  });

  it("a rate limit change pushes the new listener to that app's sidecars only; removing it restores the shared one", async () => {
    const billing = await lds("sidecar~prod~billing~vm-4");
    const web = await lds("sidecar~prod~web~vm-4");
    server.setSnapshot(snapshot({ requests: 10, intervalMs: 500, burst: 10 }));
    const pushed = await billing.c.next();
    const bucket = pushed.resources.find((x) => x["name"] === "amphi_inbound")!["filter_chains"][1].filters[0].typed_config.http_filters[0].typed_config.token_bucket;
    assert.deepEqual(bucket, { max_tokens: 10, tokens_per_fill: { value: 10 }, fill_interval: { nanos: 500_000_000 } });
    billing.c.send(TYPE_URL.listener, [], { version: pushed.version_info, nonce: pushed.nonce });
    assert.deepEqual(await web.c.drain(200), [], "web's listeners did not change");
    server.setSnapshot(snapshot(null));
    const plain = await billing.c.next();
    assert.deepEqual(limits(plain.resources.find((x) => x["name"] === "amphi_inbound")!), []);
    assert.equal(plain.version_info, web.r.version_info, "the same listeners as any other sidecar");
  });
});

// The pure Envoy builders: MeshSnapshot → listeners, routes, clusters, endpoints (names, policy, passing only,
// determinism). The strict decode of the same resources against the protos is in test/xds/strict.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildResources, retryOn, versionOf, type MeshResource, type MeshSnapshot } from "../../src/mesh/index.js";
import { edgeSnapshot, plainSnapshot, policySnapshot } from "./snapshots.js";

function byName(list: MeshResource[], name: string): Record<string, any> {
  const r = list.find((x) => x.name === name);
  assert.ok(r, `no resource ${name} in ${list.map((x) => x.name).join(", ")}`);
  return r.body;
}

describe("buildResources", () => {
  it("gives a gRPC port two API listeners, one route config with a virtual host per name, and its cluster", () => {
    const res = buildResources(plainSnapshot());
    assert.deepEqual(res.listener.filter((r) => r.onlyByName).map((r) => r.name), ["billing.mesh.internal:9100", "billing:9100"]);
    const hcm = byName(res.listener, "billing:9100")["api_listener"]["api_listener"];
    assert.equal(hcm["@type"], "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
    assert.equal(hcm.rds.route_config_name, "billing:9100");
    assert.deepEqual(hcm.rds.config_source, { ads: {}, resource_api_version: "V3" });
    assert.equal(hcm.http_filters.at(-1).typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
    assert.deepEqual(res.route.map((r) => r.name), ["billing:9100", "outbound_8080", "outbound_9100"]);
    const vhosts = byName(res.route, "billing:9100")["virtual_hosts"];
    assert.deepEqual(vhosts.map((v: any) => v.domains), [["billing:9100"], ["billing.mesh.internal:9100"]]);
    assert.deepEqual(vhosts[0].routes[0].route, { cluster: "outbound|9100||billing" });
    // HTTP ports get clusters (for sidecars) but no proxyless listener.
    assert.deepEqual(res.cluster.map((r) => r.name), ["BlackHoleCluster", "InboundPassthroughCluster", "PassthroughCluster", "outbound|8080||web", "outbound|9100||billing"]);
    assert.equal(byName(res.cluster, "outbound|9100||billing")["eds_cluster_config"].service_name, "outbound|9100||billing");
  });

  it("puts only passing instances in the endpoints", () => {
    const cla = byName(buildResources(plainSnapshot()).endpoint, "outbound|9100||billing");
    const addresses = cla["endpoints"].flatMap((e: any) => e.lb_endpoints.map((l: any) => l.endpoint.address.socket_address.address));
    assert.deepEqual(addresses, ["10.0.0.1"]);
  });

  it("splits by version over subset clusters, each holding its version's passing instances, by locality", () => {
    const res = buildResources(policySnapshot());
    assert.deepEqual(res.cluster.filter((r) => r.name.startsWith("outbound|")).map((r) => r.name), ["outbound|9100|2.3.0|billing", "outbound|9100|2.4.0|billing", "outbound|9100||billing"]);
    const route = byName(res.route, "billing:9100")["virtual_hosts"][0].routes[0].route;
    assert.deepEqual(route.weighted_clusters, {
      clusters: [
        { name: "outbound|9100|2.3.0|billing", weight: { value: 90 } },
        { name: "outbound|9100|2.4.0|billing", weight: { value: 10 } },
      ],
    });
    const old = byName(res.endpoint, "outbound|9100|2.3.0|billing")["endpoints"];
    assert.deepEqual(old.map((e: any) => [e.locality.zone, e.load_balancing_weight.value, e.lb_endpoints.length]), [["vms", 2, 2]]);
    const all = byName(res.endpoint, "outbound|9100||billing")["endpoints"];
    assert.deepEqual(all.map((e: any) => [e.locality.zone, e.lb_endpoints.length]), [["kube-a", 1], ["vms", 2]]);
  });

  it("turns timeout, retries, circuit breaking and outlier detection into route and cluster fields", () => {
    const res = buildResources(policySnapshot());
    const route = byName(res.route, "billing:9100")["virtual_hosts"][0].routes[0].route;
    assert.deepEqual(route.timeout, { seconds: 1, nanos: 500_000_000 });
    assert.deepEqual(route.max_stream_duration, { max_stream_duration: { seconds: 1, nanos: 500_000_000 } });
    assert.deepEqual(route.retry_policy, { retry_on: "unavailable,5xx,connect-failure", num_retries: { value: 2 }, per_try_timeout: { seconds: 0, nanos: 500_000_000 } });
    const cluster = byName(res.cluster, "outbound|9100|2.4.0|billing");
    assert.deepEqual(cluster["circuit_breakers"], { thresholds: [{ priority: "DEFAULT", max_connections: { value: 100 }, max_requests: { value: 50 } }] });
    assert.deepEqual(cluster["outlier_detection"].consecutive_5xx, { value: 5 });
    assert.deepEqual(cluster["outlier_detection"].base_ejection_time, { seconds: 30, nanos: 0 });
  });

  it("maps outlier detection for gRPC clients too: failure percentage from the policy, success rate off", () => {
    const od = byName(buildResources(policySnapshot()).cluster, "outbound|9100||billing")["outlier_detection"];
    assert.deepEqual(od, {
      consecutive_5xx: { value: 5 },
      interval: { seconds: 10, nanos: 0 },
      base_ejection_time: { seconds: 30, nanos: 0 },
      max_ejection_percent: { value: 50 },
      enforcing_success_rate: { value: 0 },
      failure_percentage_threshold: { value: 50 },
      enforcing_failure_percentage: { value: 100 },
      failure_percentage_minimum_hosts: { value: 2 },
      failure_percentage_request_volume: { value: 5 },
    });
  });

  it("leaves out zero weights and zero retries; one address registered twice is one endpoint; a host name is none", () => {
    const res = buildResources(edgeSnapshot());
    const route = byName(res.route, "pay:9000")["virtual_hosts"][0].routes[0].route;
    assert.deepEqual(route, { weighted_clusters: { clusters: [{ name: "outbound|9000|1.0.0|pay", weight: { value: 100 } }] } });
    const cla = byName(res.endpoint, "outbound|9000||pay");
    assert.equal(cla["endpoints"][0].lb_endpoints.length, 1);
    assert.deepEqual(byName(res.endpoint, "outbound|7000||empty"), { cluster_name: "outbound|7000||empty", endpoints: [] });
  });

  it("is deterministic: shuffled input gives the same resources and versions; a health change changes only EDS", () => {
    const a = buildResources(policySnapshot());
    const shuffled: MeshSnapshot = policySnapshot();
    shuffled.services[0]!.ports[0]!.instances.reverse();
    assert.deepEqual(buildResources(shuffled), a);
    const changed = policySnapshot();
    changed.services[0]!.ports[0]!.instances[0]!.passing = false;
    const b = buildResources(changed);
    for (const kind of ["listener", "route", "cluster"] as const) assert.equal(versionOf(b[kind]), versionOf(a[kind]), kind);
    assert.notEqual(versionOf(b.endpoint), versionOf(a.endpoint));
    assert.deepEqual(
      b.endpoint.filter((r, i) => r.hash !== a.endpoint[i]!.hash).map((r) => r.name),
      ["outbound|9100|2.4.0|billing", "outbound|9100||billing"],
    );
  });

  it("gives sidecars an outbound listener by destination port (Host routing for http/grpc, port alone for tcp, else pass-through) and an inbound one", () => {
    const res = buildResources(edgeSnapshot());
    assert.deepEqual(res.listener.filter((r) => !r.onlyByName).map((r) => r.name), ["amphi_inbound", "amphi_outbound"]);
    const out = byName(res.listener, "amphi_outbound");
    assert.deepEqual(out["address"], { socket_address: { address: "0.0.0.0", port_value: 15001 } });
    assert.equal(out["listener_filters"][0].name, "envoy.filters.listener.original_dst");
    const chains = out["filter_chains"].map((c: any) => [c.filter_chain_match.destination_port.value, c.filters[0].name, c.filters[0].typed_config.rds?.route_config_name ?? c.filters[0].typed_config.cluster]);
    assert.deepEqual(chains, [
      [7000, "envoy.filters.network.http_connection_manager", "outbound_7000"],
      [9000, "envoy.filters.network.http_connection_manager", "outbound_9000"],
      [9001, "envoy.filters.network.tcp_proxy", "outbound|9001||pay"],
      // A connection straight to the listener's own port would pass through to the listener again: closed.
      [15001, "envoy.filters.network.tcp_proxy", "BlackHoleCluster"],
    ]);
    assert.equal(out["default_filter_chain"].filters[0].typed_config.cluster, "PassthroughCluster");
    const inbound = byName(res.listener, "amphi_inbound");
    assert.deepEqual(inbound["address"].socket_address.port_value, 15006);
    assert.deepEqual(inbound["filter_chains"].map((c: any) => [c.filter_chain_match.destination_port.value, c.filters[0].typed_config.cluster]), [[15006, "BlackHoleCluster"]]);
    assert.deepEqual(byName(res.cluster, "BlackHoleCluster"), { name: "BlackHoleCluster", type: "STATIC", connect_timeout: { seconds: 10, nanos: 0 } }, "no endpoints");
    const vh = byName(res.route, "outbound_9000")["virtual_hosts"];
    assert.deepEqual(vh.map((v: any) => v.domains), [["pay", "pay:9000", "pay.mesh.internal", "pay.mesh.internal:9000"]]);
    assert.deepEqual(vh[0].routes[0].route.weighted_clusters.clusters.map((c: any) => c.name), ["outbound|9000|1.0.0|pay"]);
    assert.equal(byName(res.cluster, "PassthroughCluster")["type"], "ORIGINAL_DST");
    assert.ok(byName(res.cluster, "outbound|9000||pay")["typed_extension_protocol_options"], "grpc clusters speak HTTP/2 upstream");
    assert.equal(byName(res.cluster, "outbound|9001||pay")["typed_extension_protocol_options"], undefined);
  });

  it("retries UNAVAILABLE on gRPC ports when the policy names HTTP-level conditions (gRPC clients read only status names)", () => {
    assert.deepEqual(retryOn(["5xx", "connect-failure"], "grpc"), ["5xx", "connect-failure", "unavailable"]);
    assert.deepEqual(retryOn(["5xx", "connect-failure"], "http"), ["5xx", "connect-failure"]);
    assert.deepEqual(retryOn(["unavailable", "5xx"], "grpc"), ["unavailable", "5xx"]);
    assert.deepEqual(retryOn(["cancelled"], "grpc"), ["cancelled"]);
  });
});

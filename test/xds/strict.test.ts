// Every resource the builders emit decodes strictly against Envoy's API protos (the ones @grpc/grpc-js-xds ships):
// no unknown fields, no wrong types or enum values, every `Any` resolved, protoc-gen-validate's required fields and
// bounds kept. The walker itself is checked first against resources broken on purpose.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildResources, TYPE_URL, RESOURCE_KINDS, type MeshSnapshot } from "../../src/mesh/index.js";
import { encodeResource, envoyRoot } from "../../src/adapters/xds/protos.js";
import { strictCheck } from "./support/strict.js";
import { edgeSnapshot, plainSnapshot, policySnapshot } from "../mesh/snapshots.js";

const typeName = (url: string) => url.slice(url.lastIndexOf("/") + 1);

function checkAll(snapshot: MeshSnapshot): string[] {
  const res = buildResources(snapshot);
  const errors: string[] = [];
  for (const kind of RESOURCE_KINDS) {
    for (const r of res[kind]) errors.push(...strictCheck(envoyRoot(), typeName(TYPE_URL[kind]), r.body).map((e) => `${r.name}: ${e}`));
  }
  for (const [app, r] of res.inboundByApp) errors.push(...strictCheck(envoyRoot(), typeName(TYPE_URL.listener), r.body).map((e) => `${app} ${r.name}: ${e}`));
  return errors;
}

describe("strict decode of emitted resources", () => {
  it("the walker rejects unknown fields, wrong types, bad enums, unresolved Any, broken oneofs and required fields", () => {
    const root = envoyRoot();
    const listener = buildResources(plainSnapshot()).listener.find((r) => r.name === "billing:9100")!.body as any;
    const cluster = buildResources(plainSnapshot()).cluster.find((r) => r.name === "outbound|9100||billing")!.body as any;
    const cases: [string, string, unknown, RegExp][] = [
      ["unknown field", "envoy.config.cluster.v3.Cluster", { ...cluster, lb_polcy: "ROUND_ROBIN" }, /lb_polcy: no such field/],
      ["camelCase field", "envoy.config.cluster.v3.Cluster", { ...cluster, lbPolicy: "ROUND_ROBIN" }, /lbPolicy: no such field/],
      ["bad enum", "envoy.config.cluster.v3.Cluster", { ...cluster, lb_policy: "ROUND_ROBINS" }, /not a value of envoy.config.cluster.v3.Cluster.LbPolicy/],
      ["wrong type", "envoy.config.cluster.v3.Cluster", { ...cluster, name: 7 }, /name: expected a string/],
      ["wrapper as a bare number", "envoy.config.cluster.v3.Cluster", { ...cluster, per_connection_buffer_limit_bytes: 5 }, /expected a google.protobuf.UInt32Value object/],
      ["unresolved Any", "envoy.config.listener.v3.Listener", { name: "x", api_listener: { api_listener: { "@type": "type.googleapis.com/no.such.Type" } } }, /does not resolve/],
      ["unknown field inside an Any", "envoy.config.listener.v3.Listener", { name: "x", api_listener: { api_listener: { ...listener.api_listener.api_listener, rds_name: "x" } } }, /HttpConnectionManager>\.rds_name: no such field/],
      ["required string (min_len)", "envoy.config.endpoint.v3.ClusterLoadAssignment", { endpoints: [] }, /cluster_name: at least 1 characters/],
      ["required oneof", "envoy.config.route.v3.RouteAction", {}, /oneof cluster_specifier is required/],
      ["two members of a oneof", "envoy.config.route.v3.RouteAction", { cluster: "a", cluster_header: "b" }, /oneof cluster_specifier has cluster and cluster_header/],
      ["bound on a scalar", "envoy.config.core.v3.SocketAddress", { address: "1.2.3.4", port_value: 70000 }, /70000 breaks lte 65535/],
    ];
    for (const [what, type, value, expected] of cases) {
      const errors = strictCheck(root, type, value);
      assert.ok(errors.some((e) => expected.test(e)), `${what}: expected ${expected}, got ${JSON.stringify(errors)}`);
    }
    // In the JSON mapping (files Envoy reads) a wrapper is the bare value, and the object form is the mistake.
    const match = "envoy.config.listener.v3.FilterChainMatch";
    assert.deepEqual(strictCheck(root, match, { destination_port: 15001 }, { json: true }), []);
    assert.match(strictCheck(root, match, { destination_port: { value: 15001 } }, { json: true }).join("\n"), /expected a bare google.protobuf.UInt32Value value/);
    assert.match(strictCheck(root, match, { destination_port: -1 }, { json: true }).join("\n"), /expected a bare google.protobuf.UInt32Value value, got -1/);
  });

  it("the pods' DNS listener decodes strictly and encodes, with and without upstreams; a broken table is caught", () => {
    for (const upstreams of [[], ["10.0.0.2", "10.0.0.3"]]) {
      const s = plainSnapshot();
      const snapshot = { ...s, settings: { ...s.settings, podDns: { port: 15053, serviceIP: "10.255.0.1", namespaces: ["shop"], upstreams } } };
      const [dns] = buildResources(snapshot).podListeners!;
      assert.deepEqual(strictCheck(envoyRoot(), typeName(TYPE_URL.listener), dns!.body), [], `upstreams ${upstreams.join(",") || "none"}`);
      const back = envoyRoot().lookupType(typeName(TYPE_URL.listener)).decode(encodeResource(TYPE_URL.listener, dns!.body)).toJSON();
      assert.equal(back["name"], "amphi_dns");
      const broken = structuredClone(dns!.body) as any;
      broken.listener_filters[0].typed_config.server_config.inline_dns_table.virtual_domains[0].endpoint = { address_list: { address: [] } };
      broken.listener_filters[0].typed_config.stat_prefix = "";
      const errors = strictCheck(envoyRoot(), typeName(TYPE_URL.listener), broken);
      assert.ok(errors.some((e) => /address: .*at least 1/.test(e)), JSON.stringify(errors));
      assert.ok(errors.some((e) => /stat_prefix: at least 1 characters/.test(e)), JSON.stringify(errors));
    }
  });

  for (const [name, snapshot] of [["plain", plainSnapshot], ["full policy", policySnapshot], ["edge cases", edgeSnapshot]] as const) {
  it("the rate-limited inbound listener is checked: the full policy snapshot has one, and a broken token bucket is caught", () => {
    const res = buildResources(policySnapshot());
    const inbound = res.inboundByApp.get("billing")!.body as any;
    const bucket = inbound.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.token_bucket;
    assert.deepEqual(bucket, { max_tokens: 20, tokens_per_fill: { value: 100 }, fill_interval: { seconds: 1, nanos: 0 } });
    const broken = structuredClone(inbound);
    broken.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.token_bucket = { max_tokens: 0, tokens_per_fill: { value: 1 } };
    const errors = strictCheck(envoyRoot(), typeName(TYPE_URL.listener), broken);
    assert.ok(errors.some((e) => /max_tokens: 0 breaks gt 0/.test(e)), JSON.stringify(errors));
    assert.ok(errors.some((e) => /fill_interval: required/.test(e)), JSON.stringify(errors));
  });

    it(`every resource of the ${name} snapshot decodes strictly and encodes`, () => {
      assert.deepEqual(checkAll(snapshot()), []);
      const res = buildResources(snapshot());
      for (const kind of RESOURCE_KINDS) {
        for (const r of res[kind]) {
          const bytes = encodeResource(TYPE_URL[kind], r.body);
          const back = envoyRoot().lookupType(typeName(TYPE_URL[kind])).decode(bytes).toJSON();
          assert.equal(back["name"] ?? back["cluster_name"], r.name);
        }
      }
      for (const r of res.inboundByApp.values()) assert.ok(encodeResource(TYPE_URL.listener, r.body).length > 0);
    });
  }
});

// The sidecar bootstrap (src/mesh/bootstrap.ts) as Envoy reads it: YAML in proto3's JSON mapping of
// envoy.config.bootstrap.v3.Bootstrap, checked strictly against the protos; ADS to the control plane's address.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { dump, load } from "js-yaml";
import protobuf from "protobufjs";
import { envoyBootstrap, envoyBootstrapYaml, XDS_CLUSTER } from "../../src/mesh/bootstrap.js";
import { protoIncludeDirs } from "../../src/adapters/xds/protos.js";
import { strictCheck } from "../xds/support/strict.js";
import { proxyBootstrap } from "../../src/runtimes/k8s/proxy.js";
import { modelFixture } from "../support/model-fixture.js";

function bootstrapRoot(): protobuf.Root {
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => dirs.map((d) => join(d, target)).find((c) => existsSync(c)) ?? protobuf.util.path.resolve(origin, target);
  // The pods' static pass-through bootstrap (below) names the original_dst listener filter and tcp_proxy.
  const filters = ["envoy/extensions/filters/listener/original_dst/v3/original_dst.proto", "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto"];
  root.loadSync(["envoy/config/bootstrap/v3/bootstrap.proto", "envoy/extensions/upstreams/http/v3/http_protocol_options.proto", ...filters], { keepCase: true });
  root.resolveAll();
  return root;
}

const input = (host: string) => ({
  nodeId: "sidecar~prod~billing~billing-7d9f-abc",
  nodeCluster: "billing",
  metadata: { runtime: "k8s" },
  controlPlane: { host, port: 18000 },
  adminPort: 15000,
});

describe("sidecar bootstrap", () => {
  it("decodes strictly as envoy.config.bootstrap.v3.Bootstrap, for an address and for a name", () => {
    const root = bootstrapRoot();
    for (const host of ["10.0.0.5", "amphi-xds.internal"]) {
      const parsed = load(envoyBootstrapYaml(input(host)));
      assert.deepEqual(strictCheck(root, "envoy.config.bootstrap.v3.Bootstrap", parsed, { json: true }), [], host);
    }
    // The check can fail: a misspelt field is found.
    const broken = { ...envoyBootstrap(input("10.0.0.5")), dynamic_resource: {} };
    assert.match(strictCheck(root, "envoy.config.bootstrap.v3.Bootstrap", broken, { json: true }).join("\n"), /dynamic_resource: no such field/);
  });

  it("the pods' static pass-through bootstrap (no control plane) decodes strictly too", () => {
    const mesh = { ...modelFixture().environments[0]!.mesh, controlPlane: null };
    const parsed = load(proxyBootstrap(mesh, "prod", "billing")) as any;
    assert.ok(parsed.static_resources.listeners.length === 2 && !parsed.dynamic_resources, "the static form");
    assert.deepEqual(strictCheck(bootstrapRoot(), "envoy.config.bootstrap.v3.Bootstrap", parsed, { json: true }), []);
  });

  it("names the node and points ADS at the control plane; admin on loopback only", () => {
    const b = envoyBootstrap(input("amphi-xds.internal")) as any;
    assert.deepEqual(b.node, { id: "sidecar~prod~billing~billing-7d9f-abc", cluster: "billing", metadata: { runtime: "k8s" } });
    assert.equal(b.admin.address.socket_address.address, "127.0.0.1");
    assert.equal(b.dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name, XDS_CLUSTER);
    const xds = b.static_resources.clusters[0];
    assert.equal(xds.type, "STRICT_DNS");
    assert.deepEqual(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: "amphi-xds.internal", port_value: 18000 });
    assert.equal((envoyBootstrap(input("10.0.0.5")) as any).static_resources.clusters[0].type, "STATIC");
    assert.equal(envoyBootstrapYaml(input("10.0.0.5")), envoyBootstrapYaml(input("10.0.0.5")));
  });

  it("writes the same bytes as one dump of the whole bootstrap, for every node, port and control plane", () => {
    // The text is assembled from the node's entry and a tail cached per admin port and control plane.
    const whole = (i: ReturnType<typeof input>) => dump(envoyBootstrap(i), { sortKeys: false, lineWidth: -1, noRefs: true });
    const cases = [
      input("10.0.0.5"),
      input("amphi-xds.internal"),
      { ...input("10.0.0.5"), adminPort: 15001 },
      { ...input("10.0.0.5"), controlPlane: { host: "10.0.0.5", port: 18001 } },
      { ...input("10.0.0.5"), nodeId: "sidecar~prod~123~pod", nodeCluster: "123", metadata: { runtime: "vm", "x: y": "true" } },
      input("10.0.0.5"),
    ];
    for (const c of cases) assert.equal(envoyBootstrapYaml(c), whole(c), JSON.stringify(c));
  });
});

// The DNS listener goes to pod sidecars only: a node whose bootstrap metadata says `runtime: k8s` (what the pods'
// ConfigMap bootstrap carries) gets every sidecar listener plus `amphi_dns`; VM sidecars (which run mesh-dns on the
// same port) and proxyless clients do not. A rate-limited app's pod gets its own inbound listener and the DNS one.
// Seen through a bare ADS client, decoded with Envoy's protos.
import assert from "node:assert/strict";
import { load } from "js-yaml";
import { after, before, describe, it } from "node:test";
import { AdsServer } from "../../src/adapters/xds/index.js";
import { TYPE_URL, type MeshSnapshot } from "../../src/mesh/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";
import { RawAds } from "./support/raw-ads.js";
import { inst, policy } from "../mesh/snapshots.js";

function snapshot(services: string[]): MeshSnapshot {
  return {
    env: "prod",
    settings: { domain: "mesh", outboundPort: 15001, inboundPort: 15006, podDns: { port: 15053, serviceIP: "10.255.0.1", namespaces: ["shop"], upstreams: [] } },
    services: services.map((name, i) => ({
      name,
      app: name,
      ports: [{ port: 9100 + i, protocol: "http" as const, instances: [inst(`${name}-1`, "10.0.0.1", 9100 + i)] }],
      policy: name === "limited" ? policy(name, { rateLimit: { requests: 10, intervalMs: 1000, burst: 5 } }) : null,
    })),
  };
}

/** The node metadata the rendered pod bootstrap carries. */
function renderedPodMetadata(): Record<string, string> {
  const model = withEnvironment(modelFixture(), (env) => ({ ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.5", port: 18000 } } }));
  const cm = render(model, "prod").resources.find((r) => r.key === "k8s/eu1/ConfigMap/shop/amphi-proxy-web");
  assert.ok(cm && cm.runtime === "k8s");
  return (load((cm.object as unknown as { data: Record<string, string> }).data["envoy.yaml"]!) as { node: { metadata: Record<string, string> } }).node.metadata;
}

describe("pod sidecars get the DNS listener, nobody else", () => {
  const server = new AdsServer();
  let port = 0;
  const clients: RawAds[] = [];
  const lds = async (node: string, metadata: Record<string, string> = {}) => {
    const c = new RawAds(port, node, metadata);
    clients.push(c);
    c.send(TYPE_URL.listener, []);
    const r = await c.next();
    c.send(TYPE_URL.listener, [], { version: r.version_info, nonce: r.nonce });
    return { c, r, names: r.resources.map((x) => x["name"] as string) };
  };

  before(async () => {
    port = await server.listen("127.0.0.1:0");
    server.setSnapshot(snapshot(["billing", "limited"]));
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it("a pod sidecar (metadata from the rendered bootstrap) gets amphi_dns with the mesh names", async () => {
    const { r, names } = await lds("sidecar~prod~web~web-7d9f8-x2x4q", renderedPodMetadata());
    assert.deepEqual(names, ["amphi_dns", "amphi_inbound", "amphi_outbound"]);
    const dns = r.resources.find((x) => x["name"] === "amphi_dns")!;
    const domains = dns["listener_filters"][0]["typed_config"]["server_config"]["inline_dns_table"]["virtual_domains"].map((d: { name: string }) => d.name);
    assert.ok(domains.includes("billing") && domains.includes("billing.mesh") && domains.includes("billing.shop.svc.cluster.local"), domains.join(" "));
  });

  it("VM sidecars and other clients get no DNS listener", async () => {
    for (const [node, metadata] of [["sidecar~prod~web~vm-1", { runtime: "vm" }], ["sidecar~prod~web~vm-2", {}], ["grpc-client~x", {}]] as const) {
      const { names } = await lds(node, metadata);
      assert.ok(!names.includes("amphi_dns"), `${node}: ${names.join(" ")}`);
      assert.ok(names.includes("amphi_outbound"), node);
    }
  });

  it("a rate-limited app's pod gets its own inbound listener and the DNS one; a change of services is pushed to it", async () => {
    const pod = await lds("sidecar~prod~limited~limited-abc", { runtime: "k8s" });
    const vm = await lds("sidecar~prod~limited~vm-1", { runtime: "vm" });
    const inbound = (r: { resources: Record<string, any>[] }) => r.resources.find((x) => x["name"] === "amphi_inbound")!;
    assert.ok(pod.names.includes("amphi_dns"));
    assert.deepEqual(inbound(pod.r), inbound(vm.r), "the same per-app inbound listener as the app's VM sidecars");
    assert.ok(JSON.stringify(inbound(pod.r)).includes("local_ratelimit"));
    server.setSnapshot(snapshot(["billing", "limited", "orders"]));
    const pushed = await pod.c.next();
    const dns = pushed.resources.find((x) => x["name"] === "amphi_dns")!;
    assert.ok(JSON.stringify(dns).includes("orders.shop.svc.cluster.local"));
    assert.ok(pushed.resources.some((x) => x["name"] === "amphi_inbound" && JSON.stringify(x).includes("local_ratelimit")));
  });
});

// The sidecar's Envoy bootstrap: one ConfigMap per app placement, mounted where `--config-path` points.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { LABELS, parseSidecarNode, type Model } from "../../src/model/index.js";
import { envoyBootstrapYaml, XDS_CLUSTER } from "../../src/mesh/index.js";
import { render } from "../../src/render/index.js";
import { PROXY_CONFIG_PATH } from "../../src/runtimes/k8s/pod.js";
import { PROXY_CONFIG_ANNOTATION, proxyBootstrap } from "../../src/runtimes/k8s/proxy.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";

type Obj = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered JSON

function object(model: Model, key: string): Obj {
  const r = render(model, "prod").resources.find((x) => x.key === key);
  assert.ok(r && r.runtime === "k8s", `no k8s resource ${key}`);
  return r.object as Obj;
}

describe("render proxy bootstrap", () => {
  const model = modelFixture();

  it("renders a ConfigMap per app with amphi's labels and a parseable Envoy bootstrap", () => {
    const cm = object(model, "k8s/eu1/ConfigMap/shop/amphi-proxy-catalog");
    assert.equal(cm.apiVersion, "v1");
    assert.equal(cm.metadata.namespace, "shop");
    assert.equal(cm.metadata.labels[LABELS.managedBy], "amphi");
    assert.equal(cm.metadata.labels[LABELS.app], "catalog");
    assert.equal(cm.metadata.labels[LABELS.env], "prod");
    assert.deepEqual(Object.keys(cm.data), ["envoy.yaml", "capture.rules"]);
    const boot = load(cm.data["envoy.yaml"]) as Obj;
    assert.deepEqual(boot.admin.address.socket_address, { address: "127.0.0.1", port_value: 15000 });
    const listeners = boot.static_resources.listeners as Obj[];
    assert.deepEqual(listeners.map((l) => [l.name, l.address.socket_address.port_value]), [["outbound", 15001], ["inbound", 15006]]);
    const clusterOf = (chain: Obj) => {
      const proxy = chain.filters[0];
      assert.equal(proxy.typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy");
      return (boot.static_resources.clusters as Obj[]).find((c) => c.name === proxy.typed_config.cluster);
    };
    for (const l of listeners) {
      assert.equal(l.listener_filters[0].name, "envoy.filters.listener.original_dst");
      // A connection straight to the listener's own port is closed (passed through, it would reach the listener again).
      const [own, rest] = l.filter_chains;
      assert.deepEqual(own.filter_chain_match, { destination_port: l.address.socket_address.port_value });
      assert.deepEqual(clusterOf(own), { name: "BlackHoleCluster", type: "STATIC", connect_timeout: "5s" }, "no endpoints");
      assert.equal(rest.filter_chain_match, undefined);
      assert.deepEqual(clusterOf(rest), { name: `${l.name}_passthrough`, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "5s" });
    }
  });

  it("mounts the ConfigMap read-only where the sidecar's --config-path points", () => {
    const d = object(model, "k8s/eu1/Deployment/shop/user");
    const pod = d.spec.template.spec;
    const proxy = pod.containers.find((c: Obj) => c.name === "amphi-proxy");
    const mount = proxy.volumeMounts[0];
    assert.deepEqual(pod.volumes, [{ name: mount.name, configMap: { name: "amphi-proxy-user" } }]);
    assert.equal(mount.readOnly, true);
    assert.ok(PROXY_CONFIG_PATH.startsWith(`${mount.mountPath}/`));
    assert.equal(proxy.args[proxy.args.indexOf("--config-path") + 1], PROXY_CONFIG_PATH);
    assert.equal(pod.containers.find((c: Obj) => c.name === "app").volumeMounts, undefined, "the app never sees the proxy config");
  });

  it("follows the mesh ports, and a changed bootstrap changes the pod template (so the pods roll)", () => {
    const moved = withEnvironment(model, (env) => ({ ...env, mesh: { ...env.mesh, outboundPort: 16001 } }));
    const boot = load(object(moved, "k8s/eu1/ConfigMap/shop/amphi-proxy-web").data["envoy.yaml"]) as Obj;
    assert.equal(boot.static_resources.listeners[0].address.socket_address.port_value, 16001);
    const before = object(model, "k8s/eu1/Deployment/shop/web").spec.template.metadata.annotations[PROXY_CONFIG_ANNOTATION];
    const after = object(moved, "k8s/eu1/Deployment/shop/web").spec.template.metadata.annotations[PROXY_CONFIG_ANNOTATION];
    assert.match(before, /^[0-9a-f]{16}$/);
    assert.notEqual(after, before);
    const mesh = model.environments[0]!.mesh;
    assert.equal(proxyBootstrap(mesh, "prod", "web"), proxyBootstrap(mesh, "prod", "web"), "same settings, same bytes");
  });

  describe("with mesh.controlPlane", () => {
    const withCp = withEnvironment(model, (env) => ({ ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.5", port: 18000 } } }));

    it("points the bootstrap at the control plane (ADS), pod sidecars marked runtime k8s, no static listeners", () => {
      const cm = object(withCp, "k8s/eu1/ConfigMap/shop/amphi-proxy-catalog");
      const text = cm.data["envoy.yaml"];
      assert.equal(text, envoyBootstrapYaml({ nodeId: "sidecar~prod~catalog~pod", nodeCluster: "catalog", metadata: { runtime: "k8s" }, controlPlane: { host: "10.0.0.5", port: 18000 }, adminPort: 15000 }));
      const boot = load(text) as Obj;
      assert.equal(boot.dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name, XDS_CLUSTER);
      const xds = boot.static_resources.clusters.find((c: Obj) => c.name === XDS_CLUSTER);
      assert.deepEqual(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: "10.0.0.5", port_value: 18000 });
      assert.equal(boot.static_resources.listeners, undefined, "listeners come over LDS");
    });

    it("names each pod's node with Envoy's --service-node from the downward API", () => {
      const proxy = object(withCp, "k8s/eu1/Deployment/shop/catalog").spec.template.spec.containers.find((c: Obj) => c.name === "amphi-proxy");
      assert.deepEqual(proxy.args, ["--config-path", PROXY_CONFIG_PATH, "--service-cluster", "catalog", "--service-node", "sidecar~prod~catalog~$(POD_NAME)"]);
      assert.deepEqual(proxy.env, [{ name: "POD_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } }]);
      assert.deepEqual(parseSidecarNode(proxy.args[5].replace("$(POD_NAME)", "catalog-7d9f8-x2x4q")), { env: "prod", app: "catalog", instance: "catalog-7d9f8-x2x4q" });
    });

    it("a changed control plane address rolls the pods", () => {
      const moved = withEnvironment(withCp, (env) => ({ ...env, mesh: { ...env.mesh, controlPlane: { host: "10.0.0.6", port: 18000 } } }));
      const digest = (m: Model) => object(m, "k8s/eu1/Deployment/shop/web").spec.template.metadata.annotations[PROXY_CONFIG_ANNOTATION];
      assert.notEqual(digest(moved), digest(withCp));
    });
  });

  it("without a control plane the sidecar gets no --service-node and no env (the pass-through needs neither)", () => {
    const proxy = object(model, "k8s/eu1/Deployment/shop/catalog").spec.template.spec.containers.find((c: Obj) => c.name === "amphi-proxy");
    assert.deepEqual(proxy.args, ["--config-path", PROXY_CONFIG_PATH, "--service-cluster", "catalog"]);
    assert.equal(proxy.env, undefined);
  });
});

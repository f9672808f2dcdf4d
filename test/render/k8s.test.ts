// Kubernetes objects rendered for cluster placements: labels, selector, spec hash, containers, capture args.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LABELS, SECRET_ENV_ANNOTATION, SPEC_HASH_ANNOTATION, type K8sObject, type Model } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import { modelFixture, withCapture } from "../support/model-fixture.js";

type Obj = { [key: string]: any };

function object(model: Model, key: string): Obj {
  const r = render(model, "prod").resources.find((x) => x.key === key);
  assert.ok(r && r.runtime === "k8s", `no k8s resource ${key}`);
  return r.object as K8sObject & Obj;
}

const container = (deployment: Obj, name: string): Obj => {
  const found = deployment.spec.template.spec.containers.find((c: Obj) => c.name === name);
  assert.ok(found, `no container ${name}`);
  return found;
};

describe("render k8s", () => {
  const model = modelFixture();
  const catalog = model.apps.find((a) => a.name === "catalog")!;

  it("labels, annotates and selects a Deployment by app and env", () => {
    const d = object(model, "k8s/eu1/Deployment/shop/catalog");
    const labels = {
      [LABELS.managedBy]: "amphi",
      [LABELS.name]: "catalog",
      [LABELS.app]: "catalog",
      [LABELS.env]: "prod",
    };
    assert.equal(d.apiVersion, "apps/v1");
    assert.deepEqual(d.metadata.labels, labels);
    assert.equal(d.metadata.namespace, "shop");
    assert.deepEqual(d.metadata.annotations, { [SPEC_HASH_ANNOTATION]: catalog.specHash });
    assert.deepEqual(d.spec.selector, { matchLabels: { [LABELS.app]: "catalog", [LABELS.env]: "prod" } });
    assert.deepEqual(d.spec.template.metadata.labels, labels);
    assert.equal(d.spec.template.metadata.annotations[SPEC_HASH_ANNOTATION], undefined, "a spec change that does not touch the pod must not roll it");
    assert.equal(d.spec.replicas, 2);
  });

  it("renders one Service per service, selecting the app's pods, with appProtocol per protocol", () => {
    const s = object(model, "k8s/eu1/Service/shop/catalog");
    assert.equal(s.apiVersion, "v1");
    assert.deepEqual(s.spec.selector, { [LABELS.app]: "catalog", [LABELS.env]: "prod" });
    assert.deepEqual(s.spec.ports, [
      { name: "http", protocol: "TCP", appProtocol: "http", port: 8080, targetPort: 8080 },
      { name: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c", port: 9090, targetPort: 9090 },
    ]);
    assert.equal(s.metadata.labels[LABELS.managedBy], "amphi");
  });

  it("uses the placement's container: pinned image, replicas, env as written, resources, probe", () => {
    const user = object(model, "k8s/eu1/Deployment/shop/user");
    assert.equal(user.spec.replicas, 3);
    assert.equal(container(user, "app").image, "registry.example.com/shop/user:1.4.2");
    const app = container(object(model, "k8s/eu1/Deployment/shop/catalog"), "app");
    assert.deepEqual(app.env, [{ name: "LOG_LEVEL", value: "info" }]);
    assert.deepEqual(app.ports, [
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "grpc", containerPort: 9090, protocol: "TCP" },
    ]);
    assert.deepEqual(app.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } });
    assert.deepEqual(app.readinessProbe, { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 5, timeoutSeconds: 1 });
    const web = container(object(model, "k8s/eu1/Deployment/shop/web"), "app");
    assert.deepEqual(web.command, ["node", "dist/server.js"]);
    assert.equal(web.args, undefined);
  });

  it("names secret env vars (not their values) in an annotation on the pod template", () => {
    const web = object(model, "k8s/eu1/Deployment/shop/web");
    assert.equal(web.spec.template.metadata.annotations[SECRET_ENV_ANNOTATION], "SESSION_KEY");
    const user = object(model, "k8s/eu1/Deployment/shop/user");
    assert.equal(user.spec.template.metadata.annotations[SECRET_ENV_ANNOTATION], undefined);
  });

  it("runs the sidecar as the proxy uid, never as root", () => {
    const proxy = container(object(model, "k8s/eu1/Deployment/shop/catalog"), "amphi-proxy");
    assert.equal(proxy.image, "envoyproxy/envoy:v1.31.2");
    assert.equal(proxy.securityContext.runAsUser, 1337);
    assert.equal(proxy.securityContext.runAsNonRoot, true);
    assert.deepEqual(proxy.ports, [
      { name: "proxy-out", containerPort: 15001, protocol: "TCP" },
      { name: "proxy-in", containerPort: 15006, protocol: "TCP" },
    ]);
  });

  it("has amphi-init apply the app's capture rules from its ConfigMap with iptables-nft-restore --noflush", () => {
    const d = object(model, "k8s/eu1/Deployment/shop/catalog");
    const [init, ...more] = d.spec.template.spec.initContainers;
    assert.equal(more.length, 0);
    assert.equal(init.name, "amphi-init");
    assert.equal(init.image, "registry.example.com/amphi/init:0.1.0");
    assert.deepEqual(init.command, ["/usr/sbin/iptables-nft-restore"]);
    assert.deepEqual(init.args, ["--noflush", "/etc/amphi/capture.rules"]);
    assert.deepEqual(init.volumeMounts, [{ name: "amphi-proxy-config", mountPath: "/etc/amphi", readOnly: true }]);
    const rules = object(model, "k8s/eu1/ConfigMap/shop/amphi-proxy-catalog").data["capture.rules"] as string;
    // The host fragment's rules for the app's ports, mesh IP, proxy uid and DNS port, and the jumps into them.
    for (const line of [
      "-A AMPHI_PREROUTING -p tcp --dport 8080 -m comment --comment \"amphi:catalog\" -j AMPHI_IN_REDIRECT",
      "-A AMPHI_PREROUTING -p tcp --dport 9090 -m comment --comment \"amphi:catalog\" -j AMPHI_IN_REDIRECT",
      "-A AMPHI_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
      "-A AMPHI_OUTPUT -m owner --uid-owner 1337 -j RETURN",
      "-A AMPHI_OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 15053",
      "-A AMPHI_OUTPUT -d 10.255.0.1/32 -p tcp -j AMPHI_OUT_REDIRECT",
      "-A AMPHI_OUT_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
      "-A PREROUTING -p tcp -j AMPHI_PREROUTING",
      "-A OUTPUT -j AMPHI_OUTPUT",
      "-A OUTPUT -j AMPHI_RAW_OUTPUT",
    ]) assert.ok(rules.split("\n").includes(line), `missing: ${line}\n${rules}`);
    assert.doesNotMatch(rules, /^:(PREROUTING|OUTPUT) /m, "a built-in chain declared in --noflush input would be flushed");
    assert.deepEqual(init.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    });
  });

  it("renders no init container (and no rules) when capture is off", () => {
    const d = object(withCapture(model, false), "k8s/eu1/Deployment/shop/catalog");
    assert.equal(d.spec.template.spec.initContainers, undefined);
    assert.deepEqual(Object.keys(object(withCapture(model, false), "k8s/eu1/ConfigMap/shop/amphi-proxy-catalog").data), ["envoy.yaml"]);
    assert.deepEqual(d.spec.template.spec.containers.map((c: Obj) => c.name), ["app", "amphi-proxy"]);
  });

  it("keys objects k8s/<cluster>/<Kind>/<namespace>/<name> with the cluster as target", () => {
    const k8s = render(model, "prod").resources.filter((r) => r.runtime === "k8s");
    assert.deepEqual(
      k8s.map((r) => `${r.key} ${r.target} ${r.app}`),
      [
        "k8s/eu1/ConfigMap/shop/amphi-proxy-catalog eu1 catalog",
        "k8s/eu1/ConfigMap/shop/amphi-proxy-user eu1 user",
        "k8s/eu1/ConfigMap/shop/amphi-proxy-web eu1 web",
        "k8s/eu1/Deployment/shop/catalog eu1 catalog",
        "k8s/eu1/Deployment/shop/user eu1 user",
        "k8s/eu1/Deployment/shop/web eu1 web",
        "k8s/eu1/Secret/shop/amphi-secrets-web eu1 web",
        "k8s/eu1/Service/shop/catalog eu1 catalog",
        "k8s/eu1/Service/shop/user eu1 user",
        "k8s/eu1/Service/shop/web eu1 web",
      ],
    );
  });
});

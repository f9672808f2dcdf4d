// The amphi-proxy sidecar's Envoy bootstrap, shipped as a ConfigMap next to each app's Deployment and mounted
// at /etc/amphi (with capture on, the pod's capture rules ride in the same ConfigMap). Without it the stock Envoy
// image has no config at `--config-path` and exits at start.
//
// With `mesh.controlPlane` set, it is the one bootstrap every amphi sidecar starts from (src/mesh/bootstrap.ts):
// node metadata `runtime: k8s` (the control plane gives pod sidecars the DNS listener; VM hosts run mesh-dns),
// cluster = the app, and ADS from amphi's control plane. The node id names the pod, which a ConfigMap shared by
// all of them cannot know: the sidecar's `--service-node` flag (pod.ts, from the downward API) overrides it.
//
// Without a control plane (allowed only with capture off; config validation says so) it is a static,
// deliberately minimal, transparent pass-through that matches the capture rules:
// - admin on 127.0.0.1 only (stats and readiness for people on the pod, never reachable from outside);
// - the outbound listener (mesh.outboundPort) gets connections that amphi-init redirected to the mesh service
//   IP, recovers their original destination (original_dst listener filter) and forwards them there through an
//   ORIGINAL_DST cluster with a TCP proxy;
// - the inbound listener (mesh.inboundPort) does the same for connections redirected from the app's ports.
//   Envoy runs as the proxy uid, which the capture rules exempt, so its own connections are never captured;
// - a connection made straight to a listener's own port (not redirected) has that listener as its original
//   destination: each listener closes it (a STATIC cluster without endpoints, as src/mesh/sidecar.ts does) instead
//   of forwarding it to itself again and again.
// Service discovery and routing (what the mesh service IP should reach) are not in here: they belong to a
// control plane, which replaces this bootstrap's static resources.
import { dump } from "js-yaml";
import { envoyBootstrapYaml } from "../../mesh/bootstrap.js";
import { ORIGINAL_DST_TYPE_URL, TCP_PROXY_TYPE_URL } from "../../mesh/envoy.js";
import { BLACKHOLE_CLUSTER } from "../../mesh/sidecar.js";
import { shortDigest, sidecarNodeId, type K8sObject, type MeshModel } from "../../model/index.js";

/** Directory the bootstrap is mounted at, and its file name there; and the pod's capture rules' file name. */
export const PROXY_CONFIG_DIR = "/etc/amphi";
export const PROXY_CONFIG_FILE = "envoy.yaml";
export const CAPTURE_RULES_FILE = "capture.rules";
/** Envoy's admin port, bound to 127.0.0.1 in the pod. */
export const PROXY_ADMIN_PORT = 15000;
/** Name of the pod volume carrying the bootstrap. */
export const PROXY_CONFIG_VOLUME = "amphi-proxy-config";
/** Pod-template annotation with a digest of the bootstrap: a changed bootstrap rolls the pods. */
export const PROXY_CONFIG_ANNOTATION = "amphi.dev/proxy-config";

/** The ConfigMap name for an app's proxy bootstrap (one per app and namespace, pruned with the app). */
export function proxyConfigMapName(app: string): string {
  return `amphi-proxy-${app}`;
}

/** The xDS node metadata of pod sidecars: how the control plane tells them from VM hosts' sidecars. */
export const POD_NODE_METADATA = { runtime: "k8s" } as const;

/** The instance part of the node id written into the bootstrap; `--service-node` replaces the whole id with one
 * that names the pod (pod.ts), so no running sidecar ever uses it. */
export const BOOTSTRAP_INSTANCE = "pod";

/** The Envoy bootstrap (YAML text) of an app's pod sidecars: ADS from the control plane when the environment has
 * one, else the static pass-through. Same settings, same bytes. */
export function proxyBootstrap(mesh: MeshModel, env: string, app: string): string {
  if (!mesh.controlPlane) return passthroughBootstrap(mesh);
  return envoyBootstrapYaml({
    nodeId: sidecarNodeId({ env, app, instance: BOOTSTRAP_INSTANCE }),
    nodeCluster: app,
    metadata: { ...POD_NODE_METADATA },
    controlPlane: mesh.controlPlane,
    adminPort: PROXY_ADMIN_PORT,
  });
}

// The pass-through text depends on the two ports only, and every app of an environment gets the same: one dump
// per port pair instead of one per app (the dump was 15 % of a 10,000-app plan).
const passthroughTexts = new Map<string, string>();

function passthroughBootstrap(mesh: MeshModel): string {
  const key = `${mesh.outboundPort}/${mesh.inboundPort}`;
  let text = passthroughTexts.get(key);
  if (text === undefined) passthroughTexts.set(key, (text = dumpPassthrough(mesh)));
  return text;
}

function dumpPassthrough(mesh: MeshModel): string {
  const bootstrap = {
    admin: { address: socket("127.0.0.1", PROXY_ADMIN_PORT) },
    static_resources: {
      listeners: [listener("outbound", mesh.outboundPort), listener("inbound", mesh.inboundPort)],
      clusters: [passthrough("outbound"), passthrough("inbound"), { name: BLACKHOLE_CLUSTER, type: "STATIC", connect_timeout: "5s" }],
    },
  };
  return dump(bootstrap, { sortKeys: false, lineWidth: -1, noRefs: true });
}

/** A short digest of the bootstrap text and the capture rules (when there are some), for the pod-template
 * annotation. Bootstrap alone: the digest of its text, as before the rules were shipped, so pods without capture
 * do not roll for nothing. */
export function proxyConfigDigest(bootstrap: string, rules: string | null): string {
  return shortDigest(rules === null ? bootstrap : `${bootstrap}\0${rules}`);
}

/** The ConfigMap holding the bootstrap (and the pod's capture rules, when there are some), with the app's labels. */
export function proxyConfigMap(name: string, namespace: string, labels: Record<string, string>, data: Record<string, string>): K8sObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace, labels: { ...labels } }, data: { ...data } };
}

function socket(address: string, port: number) {
  return { socket_address: { address, port_value: port } };
}

function listener(direction: "outbound" | "inbound", port: number) {
  return {
    name: direction,
    address: socket("0.0.0.0", port),
    listener_filters: [
      { name: "envoy.filters.listener.original_dst", typed_config: { "@type": ORIGINAL_DST_TYPE_URL } },
    ],
    filter_chains: [
      { name: `${direction}_blackhole`, filter_chain_match: { destination_port: port }, filters: [tcpProxy(`${direction}_blackhole`, BLACKHOLE_CLUSTER)] },
      { filters: [tcpProxy(direction, `${direction}_passthrough`)] },
    ],
  };
}

function tcpProxy(statPrefix: string, cluster: string) {
  return { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: statPrefix, cluster } };
}

function passthrough(direction: "outbound" | "inbound") {
  return { name: `${direction}_passthrough`, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "5s" };
}

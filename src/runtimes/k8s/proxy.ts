// The amphi-proxy sidecar's Envoy bootstrap, shipped as a ConfigMap next to each app's Deployment and mounted
// at /etc/amphi. Without it the stock Envoy image has no config at `--config-path` and exits at start.
//
// What it configures is deliberately minimal, a transparent pass-through that matches the capture rules:
// - admin on 127.0.0.1 only (stats and readiness for people on the pod, never reachable from outside);
// - the outbound listener (mesh.outboundPort) gets connections that amphi-init redirected to the mesh service
//   IP, recovers their original destination (original_dst listener filter) and forwards them there through an
//   ORIGINAL_DST cluster with a TCP proxy;
// - the inbound listener (mesh.inboundPort) does the same for connections redirected from the app's ports.
//   Envoy runs as the proxy uid, which the capture rules exempt, so its own connections are never captured.
// Service discovery and routing (what the mesh service IP should reach) are not in here: they belong to a
// control plane, which replaces this bootstrap's static resources.
import { createHash } from "node:crypto";
import { dump } from "js-yaml";
import type { K8sObject, MeshModel } from "../../model/index.js";

/** Directory the bootstrap is mounted at, and its file name there. */
export const PROXY_CONFIG_DIR = "/etc/amphi";
export const PROXY_CONFIG_FILE = "envoy.yaml";
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

/** The Envoy bootstrap (YAML text) for the environment's mesh settings. Same settings, same bytes. */
export function proxyBootstrap(mesh: MeshModel): string {
  const bootstrap = {
    admin: { address: socket("127.0.0.1", PROXY_ADMIN_PORT) },
    static_resources: {
      listeners: [listener("outbound", mesh.outboundPort), listener("inbound", mesh.inboundPort)],
      clusters: [passthrough("outbound"), passthrough("inbound")],
    },
  };
  return dump(bootstrap, { sortKeys: false, lineWidth: -1, noRefs: true });
}

/** A short digest of the bootstrap text, for the pod-template annotation. */
export function proxyConfigDigest(bootstrap: string): string {
  return createHash("sha256").update(bootstrap).digest("hex").slice(0, 16);
}

/** The ConfigMap holding the bootstrap, with the app's labels. */
export function proxyConfigMap(name: string, namespace: string, labels: Record<string, string>, bootstrap: string): K8sObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace, labels: { ...labels } }, data: { [PROXY_CONFIG_FILE]: bootstrap } };
}

function socket(address: string, port: number) {
  return { socket_address: { address, port_value: port } };
}

function listener(direction: "outbound" | "inbound", port: number) {
  return {
    name: direction,
    address: socket("0.0.0.0", port),
    listener_filters: [
      { name: "envoy.filters.listener.original_dst", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst" } },
    ],
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.tcp_proxy",
            typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: direction, cluster: `${direction}_passthrough` },
          },
        ],
      },
    ],
  };
}

function passthrough(direction: "outbound" | "inbound") {
  return { name: `${direction}_passthrough`, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "5s" };
}

// The Envoy bootstrap every amphi sidecar starts from, on a VM host and in a pod alike: who the proxy is (its
// xDS node), where its admin interface listens, and where amphi's control plane is. Everything else (listeners,
// routes, clusters, endpoints) comes over ADS from that control plane, so the bootstrap only changes when the
// node or the control plane's address does.
import { dump } from "js-yaml";
import type { ControlPlaneModel } from "../model/index.js";

/** The static cluster through which the proxy reaches the control plane. */
export const XDS_CLUSTER = "amphi_xds";
const HTTP_OPTIONS_TYPE_URL = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** What one sidecar's bootstrap says. */
export interface BootstrapInput {
  /** The xDS node id (see model/proxies.ts). */
  nodeId: string;
  /** The node's cluster (Envoy's `--service-cluster`): the app for a pod, the host group for a host. */
  nodeCluster: string;
  /** Node metadata (string values), e.g. the runtime, for the control plane to tell sidecars apart. */
  metadata: Record<string, string>;
  controlPlane: ControlPlaneModel;
  /** Envoy's admin interface (stats, `/ready`), on loopback only. */
  adminPort: number;
}

/** The bootstrap as a plain object in the shape of `envoy.config.bootstrap.v3.Bootstrap` (snake_case fields). */
export function envoyBootstrap(input: BootstrapInput): Record<string, unknown> {
  const { host, port } = input.controlPlane;
  return {
    node: { id: input.nodeId, cluster: input.nodeCluster, metadata: { ...input.metadata } },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: input.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
      },
      cds_config: { ads: {}, resource_api_version: "V3" },
      lds_config: { ads: {}, resource_api_version: "V3" },
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          // An address is used as it is; a name is resolved (and re-resolved) by DNS.
          type: IPV4.test(host) ? "STATIC" : "STRICT_DNS",
          connect_timeout: "5s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": HTTP_OPTIONS_TYPE_URL,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
          },
        },
      ],
    },
  };
}

/** The bootstrap as YAML text (what `envoy -c FILE` reads). Same input, same bytes. */
export function envoyBootstrapYaml(input: BootstrapInput): string {
  // A block mapping's top-level entries are dumped one after the other, so the text is the node's entry followed
  // by the rest, which depends on the admin port and the control plane only: dumped once per such pair, not once
  // per app (a 10,000-app render dumped 10,000 equal copies).
  const { node, ...rest } = envoyBootstrap(input);
  const key = `${input.adminPort}\0${input.controlPlane.host}\0${input.controlPlane.port}`;
  let tail = bootstrapTails.get(key);
  if (tail === undefined) bootstrapTails.set(key, (tail = toYaml(rest)));
  return toYaml({ node }) + tail;
}

const bootstrapTails = new Map<string, string>();

function toYaml(value: unknown): string {
  return dump(value, { sortKeys: false, lineWidth: -1, noRefs: true });
}

// The Envoy test double's bootstrap: a YAML or JSON file in proto3's JSON mapping of
// envoy.config.bootstrap.v3.Bootstrap, checked strictly against the protos (as Envoy does), then against the
// subset the double implements — what src/mesh/bootstrap.ts renders: node, admin on a socket address, ADS over
// envoy_grpc to one static cluster (STATIC or STRICT_DNS). Anything else is an error naming the field.
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { strictCheck } from "../../xds/support/strict.js";
import { doubleRoot } from "./protos.js";
import { checkShape, DURATION, mapOf, oneOf, anyOf, type Shape } from "./shape.js";
import { T } from "./resources.js";

const SOCKET: Shape = { socket_address: { address: "string", port_value: "number" } };
const ADS_SOURCE: Shape = { ads: {}, resource_api_version: oneOf("V3") };

const BOOTSTRAP: Shape = {
  node: { id: "string", cluster: "string", metadata: mapOf("scalar") },
  admin: { address: SOCKET },
  dynamic_resources: {
    ads_config: {
      api_type: oneOf("GRPC"),
      transport_api_version: oneOf("V3"),
      set_node_on_first_message_only: "bool",
      grpc_services: [{ envoy_grpc: { cluster_name: "string" } }],
    },
    cds_config: ADS_SOURCE,
    lds_config: ADS_SOURCE,
  },
  static_resources: {
    clusters: [
      {
        name: "string",
        type: oneOf("STATIC", "STRICT_DNS"),
        connect_timeout: DURATION,
        typed_extension_protocol_options: mapOf(anyOf({ [T.httpOptions]: { explicit_http_config: { http2_protocol_options: {} } } })),
        load_assignment: { cluster_name: "string", endpoints: [{ lb_endpoints: [{ endpoint: { address: SOCKET } }] }] },
      },
    ],
  },
};

/** What the double takes from its bootstrap. */
export interface DoubleBootstrap {
  node: { id: string; cluster: string; metadata: Record<string, unknown> };
  admin: { address: string; port: number };
  /** The control plane: `host:port` of the ADS cluster's endpoint. */
  xds: { host: string; port: number };
  /** The file as read (for /config_dump). */
  raw: Record<string, unknown>;
}

/** Reads and checks a bootstrap file; throws an Error naming the file and every problem. */
export function readBootstrap(path: string): DoubleBootstrap {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`unable to read file: ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = load(text);
  } catch (err) {
    throw new Error(`${path}: not YAML or JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${path}: a bootstrap must be an object`);
  const problems = [...strictCheck(doubleRoot(), "envoy.config.bootstrap.v3.Bootstrap", raw, { json: true }), ...checkShape(BOOTSTRAP, raw, "bootstrap")];
  const b = raw as Record<string, any>;
  const adsCluster = b.dynamic_resources?.ads_config?.grpc_services?.[0]?.envoy_grpc?.cluster_name;
  const cluster = (b.static_resources?.clusters ?? []).find((c: any) => c.name === adsCluster);
  const endpoint = cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
  if (!b.dynamic_resources?.ads_config) problems.push("bootstrap.dynamic_resources.ads_config: required (the double takes every listener and cluster over ADS)");
  else if (!cluster) problems.push(`bootstrap.dynamic_resources.ads_config: cluster ${JSON.stringify(adsCluster)} is not a static cluster`);
  else if (!endpoint) problems.push(`bootstrap.static_resources.clusters[${adsCluster}]: no endpoint`);
  if ((b.dynamic_resources?.ads_config?.grpc_services ?? []).length > 1) problems.push("bootstrap.dynamic_resources.ads_config.grpc_services: one service only");
  if (!b.admin?.address?.socket_address) problems.push("bootstrap.admin.address: required (the double's /ready is on it)");
  if (problems.length > 0) throw new Error(`${path}: bootstrap not accepted:\n  ${problems.join("\n  ")}`);
  return {
    node: { id: String(b.node?.id ?? ""), cluster: String(b.node?.cluster ?? ""), metadata: { ...(b.node?.metadata ?? {}) } },
    admin: { address: String(b.admin.address.socket_address.address), port: Number(b.admin.address.socket_address.port_value ?? 0) },
    xds: { host: String(endpoint.address), port: Number(endpoint.port_value ?? 0) },
    raw: b,
  };
}

// Which Envoy API protos amphi reads, and where they are: the folders `@grpc/grpc-js-xds` ships (include paths, no
// copies). Apart from protos.ts, which loads them, so that a process needing only the names (the Envoy test double,
// which keeps its own parsed copy) does not load @grpc/proto-loader.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The folders Envoy's protos import from: envoy-api, xds, googleapis, protoc-gen-validate, protobufjs's `google/`. */
export function protoIncludeDirs(): string[] {
  const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  const protobufjsDir = dirname(require.resolve("protobufjs/package.json"));
  return [...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)), protobufjsDir];
}

/** The proto files of every resource and nested `Any` type the control plane emits. */
export const RESOURCE_PROTOS = [
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.proto",
  "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto",
  "envoy/service/discovery/v3/discovery.proto",
];

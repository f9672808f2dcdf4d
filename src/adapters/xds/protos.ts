// The Envoy API protos, loaded from the folders `@grpc/grpc-js-xds` ships (include paths, no copies): a protobufjs
// Root that encodes resources (nested `Any` fields as their typed messages, never by hand), and the gRPC package
// definition of the ADS service (@grpc/proto-loader).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";

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

const ADS_PROTO = "envoy/service/discovery/v3/ads.proto";

let cachedRoot: protobuf.Root | null = null;

/** The Envoy API as a protobufjs Root (fields in snake_case, as in the protos). Loaded once per process. */
export function envoyRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(RESOURCE_PROTOS, { keepCase: true });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

let cachedAds: PackageDefinition | null = null;

/** The gRPC definition of `envoy.service.discovery.v3.AggregatedDiscoveryService`. Loaded once per process (parsing
 * ads.proto and what it imports costs ~0.1–0.3 s; a process may start several servers: `amphi serve` one per
 * environment, tests many). A PackageDefinition is plain data grpc-js only reads. */
export function adsPackageDefinition(): PackageDefinition {
  cachedAds ??= loadSync(ADS_PROTO, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: protoIncludeDirs() });
  return cachedAds;
}

/** Encodes one resource (plain JSON of the message a type URL names) as that message's bytes. */
export function encodeResource(typeUrl: string, body: Record<string, unknown>): Uint8Array {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
  return type.encode(type.fromObject(body)).finish();
}

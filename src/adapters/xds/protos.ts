// The Envoy API protos, loaded from the folders `@grpc/grpc-js-xds` ships (include paths, no copies): a protobufjs
// Root that encodes resources (nested `Any` fields as their typed messages, never by hand), and the gRPC package
// definition of the ADS service (@grpc/proto-loader).
import { existsSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { protoIncludeDirs, RESOURCE_PROTOS } from "./proto-files.js";

export { protoIncludeDirs, RESOURCE_PROTOS };

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

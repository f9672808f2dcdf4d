// The Envoy API for the test double: amphi's resource protos (src/adapters/xds/protos.ts, same include paths) plus
// the bootstrap and the UDP DNS filter, and decoding of xDS resources to plain JSON (snake_case, `Any` as `@type`).
import { existsSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { protoIncludeDirs, RESOURCE_PROTOS } from "../../../src/adapters/xds/protos.js";

const EXTRA_PROTOS = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.proto",
  "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto",
];

let cached: protobuf.Root | null = null;

/** The protos the double reads, loaded once. */
export function doubleRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => dirs.map((d) => join(d, target)).find((c) => existsSync(c)) ?? protobuf.util.path.resolve(origin, target);
  root.loadSync([...RESOURCE_PROTOS, ...EXTRA_PROTOS], { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

/** One resource's bytes as JSON of the message `typeUrl` names. */
export function decodeResource(typeUrl: string, value: Uint8Array): Record<string, unknown> {
  const type = doubleRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
  return type.toObject(type.decode(value), { longs: Number, enums: String, json: true }) as Record<string, unknown>;
}

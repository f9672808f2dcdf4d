// The Envoy API for the test double: amphi's resource protos (src/adapters/xds/protos.ts, same include paths) plus
// the bootstrap, the UDP DNS filter and the ADS service, and decoding of xDS resources to plain JSON (snake_case,
// `Any` as `@type`).
//
// Parsing those ~150 .proto files took ~0.55 s of CPU at every start of a double, and a whole run starts 29 of them
// (counted: 22 serving, 4 `--mode validate`, 3 `--version`). So the parsed root is kept as protobufjs JSON in the temp
// dir, named after the include dirs, the proto list and protobufjs's version, and listing every file it was parsed from
// with its size and mtime: a file changed (or a list that differs) means a parse again. The ADS client's method is
// made from that root's DiscoveryRequest and DiscoveryResponse as @grpc/proto-loader makes them (adsService): building
// the service's package definition with proto-loader (its fromJSON describes every type of the root) and loading
// proto-loader took ~90 ms of a double's ~320 ms start here. The file lives in this user's private temp directory
// (src/hosts/private-dir.ts: `<tmp>/amphi-<uid>/` when it is this user's own 0700 directory, else one of this process
// removed at exit), so no other user can plant a root.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { protoIncludeDirs, RESOURCE_PROTOS } from "../../../src/adapters/xds/proto-files.js";
import { privateDir } from "../../../src/hosts/private-dir.js";

const EXTRA_PROTOS = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.proto",
  "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto",
];

/** What the cache file holds: the files parsed ([path, size, mtimeMs]; not the google/protobuf ones protobufjs has
 * built in, which its version stands for) and the root as protobufjs JSON. */
interface CacheFile {
  files: [string, number, number][];
  root: protobuf.INamespace;
}

let cached: protobuf.Root | null = null;

/** The protos the double reads, loaded once (from the cache file when it is current). */
export function doubleRoot(): protobuf.Root {
  cached ??= loaded();
  return cached;
}

/** `envoy.service.discovery.v3.AggregatedDiscoveryService`'s StreamAggregatedResources (the only method the double
 * calls: it speaks state of the world), for grpc-js's makeGenericClientConstructor. Its messages are written and read
 * as @grpc/proto-loader's package definition does with the options amphi's control plane loads it with
 * (src/adapters/xds/protos.ts adsPackageDefinition: fields as in the protos, 64-bit numbers and enums as strings, no
 * defaults, oneofs named): fromObject then encode; decode then toObject. */
export function adsService(): ServiceDefinition {
  const request = doubleRoot().lookupType("envoy.service.discovery.v3.DiscoveryRequest");
  const response = doubleRoot().lookupType("envoy.service.discovery.v3.DiscoveryResponse");
  const read = { longs: String, enums: String, defaults: false, oneofs: true };
  const StreamAggregatedResources = {
    path: "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
    requestStream: true,
    responseStream: true,
    requestSerialize: (m: object) => Buffer.from(request.encode(request.fromObject(m)).finish()),
    requestDeserialize: (b: Buffer) => request.toObject(request.decode(b), read),
    responseSerialize: (m: object) => Buffer.from(response.encode(response.fromObject(m)).finish()),
    responseDeserialize: (b: Buffer) => response.toObject(response.decode(b), read),
    originalName: "streamAggregatedResources",
  };
  return { StreamAggregatedResources };
}

/** One resource's bytes as JSON of the message `typeUrl` names. */
export function decodeResource(typeUrl: string, value: Uint8Array): Record<string, unknown> {
  const type = doubleRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
  return type.toObject(type.decode(value), { longs: Number, enums: String, json: true }) as Record<string, unknown>;
}

function loaded(): protobuf.Root {
  const dirs = protoIncludeDirs();
  const protos = [...RESOURCE_PROTOS, ...EXTRA_PROTOS];
  const version = (createRequire(import.meta.url)("protobufjs/package.json") as { version: string }).version;
  const key = createHash("sha256").update(JSON.stringify([version, dirs, protos])).digest("hex").slice(0, 16);
  const file = join(privateDir(tmpdir()), `envoy-double-protos-${key}.json`);
  const fromCache = readCache(file);
  if (fromCache) {
    const root = protobuf.Root.fromJSON(fromCache.root);
    root.resolveAll();
    return root;
  }
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => dirs.map((d) => join(d, target)).find((c) => existsSync(c)) ?? protobuf.util.path.resolve(origin, target);
  root.loadSync(protos, { keepCase: true });
  root.resolveAll();
  const parsed = root.files.filter((f) => isAbsolute(f));
  const json = JSON.stringify({ files: parsed.map((f) => stamp(f)!), root: root.toJSON() } satisfies CacheFile);
  // Written whole under a name of its own, then renamed: doubles starting at once never read half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, json, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true }); // cannot write there: parse again next time
  }
  return root;
}

/** The cache file when every file it was parsed from is unchanged, else null. */
function readCache(file: string): CacheFile | null {
  let cache: CacheFile;
  try {
    cache = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
  } catch {
    return null;
  }
  if (!Array.isArray(cache.files) || cache.files.length === 0) return null;
  for (const [path, size, mtimeMs] of cache.files) {
    const now = stamp(path);
    if (!now || now[1] !== size || now[2] !== mtimeMs) return null;
  }
  return cache;
}

/** A file's path, size and mtime; null when it is gone. */
function stamp(path: string): [string, number, number] | null {
  try {
    const s = statSync(path);
    return [path, s.size, s.mtimeMs];
  } catch {
    return null;
  }
}

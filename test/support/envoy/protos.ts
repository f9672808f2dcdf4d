// The Envoy API for the test double: amphi's resource protos (src/adapters/xds/protos.ts, same include paths) plus
// the bootstrap, the UDP DNS filter and the ADS service, and decoding of xDS resources to plain JSON (snake_case,
// `Any` as `@type`).
//
// Parsing those ~150 .proto files took ~0.55 s of CPU at every start of a double (its root here, and the ADS
// service's package definition again through @grpc/proto-loader), and tests start dozens of doubles. So the parsed
// root is kept as protobufjs JSON in the temp dir, named after the include dirs, the proto list and protobufjs's
// version, and listing every file it was parsed from with its size and mtime: a file changed (or a list that
// differs) means a parse again. Both the root and the ADS definition (@grpc/proto-loader's fromJSON) are built
// from that JSON. The file lives in `<tmp>/amphi-<uid>/` only when that is this user's own 0700 directory (as
// src/hosts/sidecar.ts keeps its package there), so no other user can plant a root; else the double parses.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fromJSON, type PackageDefinition } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { protoIncludeDirs, RESOURCE_PROTOS } from "../../../src/adapters/xds/protos.js";

const EXTRA_PROTOS = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.proto",
  "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto",
];
const ADS_PROTO = "envoy/service/discovery/v3/ads.proto";

/** What the cache file holds: the files parsed ([path, size, mtimeMs]; not the google/protobuf ones protobufjs has
 * built in, which its version stands for), the root as protobufjs JSON, and the ADS service's own root (ads.proto
 * and what it imports, as @grpc/proto-loader would load it: a package definition is built from every file of its
 * root, so the larger one would cost more than the parse it saves). */
interface CacheFile {
  files: [string, number, number][];
  root: protobuf.INamespace;
  ads: protobuf.INamespace;
}

let cached: { root: protobuf.Root; json: string } | null = null;

/** The protos the double reads, loaded once (from the cache file when it is current). */
export function doubleRoot(): protobuf.Root {
  return loaded().root;
}

/** The gRPC definition of `envoy.service.discovery.v3.AggregatedDiscoveryService`, with the options amphi's control
 * plane loads it with (src/adapters/xds/protos.ts adsPackageDefinition). */
export function adsDefinition(): PackageDefinition {
  const { ads } = JSON.parse(loaded().json) as CacheFile;
  return fromJSON(ads as Record<string, unknown>, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
}

/** One resource's bytes as JSON of the message `typeUrl` names. */
export function decodeResource(typeUrl: string, value: Uint8Array): Record<string, unknown> {
  const type = doubleRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
  return type.toObject(type.decode(value), { longs: Number, enums: String, json: true }) as Record<string, unknown>;
}

function loaded(): { root: protobuf.Root; json: string } {
  if (cached) return cached;
  const dirs = protoIncludeDirs();
  const protos = [...RESOURCE_PROTOS, ...EXTRA_PROTOS];
  const version = (createRequire(import.meta.url)("protobufjs/package.json") as { version: string }).version;
  const key = createHash("sha256").update(JSON.stringify([version, dirs, protos, ADS_PROTO])).digest("hex").slice(0, 16);
  const dir = ownDir();
  const file = dir ? join(dir, `envoy-double-protos-${key}.json`) : null;
  const fromCache = file ? readCache(file) : null;
  if (fromCache) {
    const root = protobuf.Root.fromJSON(JSON.parse(fromCache).root as protobuf.INamespace);
    root.resolveAll();
    return (cached = { root, json: fromCache });
  }
  const parse = (files: string[]): protobuf.Root => {
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => dirs.map((d) => join(d, target)).find((c) => existsSync(c)) ?? protobuf.util.path.resolve(origin, target);
    root.loadSync(files, { keepCase: true });
    root.resolveAll();
    return root;
  };
  const root = parse(protos);
  const ads = parse([ADS_PROTO]);
  const parsed = [...new Set([...root.files, ...ads.files])].filter((f) => isAbsolute(f));
  const json = JSON.stringify({ files: parsed.map((f) => stamp(f)), root: root.toJSON(), ads: ads.toJSON() } satisfies CacheFile);
  // Written whole under a name of its own, then renamed: doubles starting at once never read half a file.
  if (file) {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, json, { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      rmSync(tmp, { force: true }); // cannot write there: parse again next time
    }
  }
  return (cached = { root, json });
}

/** `<tmp>/amphi-<uid>`, made when missing, if it is a directory (not a symlink) of this user with mode 0700; else null. */
function ownDir(): string | null {
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  const dir = join(tmpdir(), `amphi-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return null;
  }
  const st = lstatSync(dir);
  return st.isDirectory() && st.uid === uid && (st.mode & 0o777) === 0o700 ? dir : null;
}

/** The cache file's text when every file it was parsed from is unchanged, else null. */
function readCache(file: string): string | null {
  let text: string;
  let files: CacheFile["files"];
  try {
    text = readFileSync(file, "utf8");
    files = (JSON.parse(text) as CacheFile).files;
  } catch {
    return null;
  }
  if (!Array.isArray(files) || files.length === 0) return null;
  for (const [path, size, mtimeMs] of files) {
    const now = (() => {
      try {
        return stamp(path);
      } catch {
        return null;
      }
    })();
    if (!now || now[1] !== size || now[2] !== mtimeMs) return null;
  }
  return text;
}

function stamp(path: string): [string, number, number] {
  const s = statSync(path);
  return [path, s.size, s.mtimeMs];
}

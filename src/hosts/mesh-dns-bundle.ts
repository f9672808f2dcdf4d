// The one-file mesh-dns program the capture task uploads to hosts (hosts have node, not amphi): an ESM
// bundle of src/adapters/dns-server/host-main.ts made with esbuild. `npm run build` (scripts/build.mjs) writes
// it into dist/ with writeMeshDnsBundle; a task reads that prebuilt file when it was made from the current
// sources. Running from sources without a current dist/ (tests, a clean clone) builds it on first use instead,
// memoised per process and cached as `.amphi/cache/mesh-dns-<hash>.mjs` under the working directory.
// The file name carries a hash of the sources it is made of, so a stale bundle is never uploaded.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The package root, from src/hosts/ and from dist/hosts/ alike. The TypeScript sources are read also when
// this runs compiled from dist/: the package ships src/.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");
const ENTRY = "adapters/dns-server/host-main.ts";
/** The directories whose sources the bundle is made of (everything the entry imports). */
const SOURCE_DIRS = ["dns", "adapters/dns-server", "adapters/consul", "model"];

/** The bundled program and its sha256. */
export interface MeshDnsProgram {
  code: Buffer;
  sha256: string;
}

/** Where {@link loadMeshDnsProgram} looks: the prebuilt bundles of `npm run build`, and the cache it writes. */
export interface BundlePlaces {
  distDir: string;
  cacheDir: string;
}

/** The bundle's file name: `mesh-dns-<16 hex of the sources' sha256>.mjs`. */
export function meshDnsBundleName(): string {
  return `mesh-dns-${sourceHash()}.mjs`;
}

/** The sources the bundle is made of (with the versions of esbuild and dns2), for its file name. */
function sourceHash(): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(name)) h.update(`${p.slice(SRC.length + 1)}\0`).update(readFileSync(p)).update("\0");
    }
  };
  for (const d of SOURCE_DIRS) walk(join(SRC, d));
  for (const pkg of ["esbuild", "dns2"]) {
    try {
      h.update(`${pkg}@${(JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version}`);
    } catch {
      h.update(`${pkg}@?`);
    }
  }
  return h.digest("hex").slice(0, 16);
}

/** Bundles the host entry point with esbuild (in memory). */
export async function buildMeshDnsBundle(): Promise<Buffer> {
  const esbuild = await import("esbuild");
  const r = await esbuild.build({
    entryPoints: [join(SRC, ENTRY)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    write: false,
    logLevel: "silent",
    legalComments: "none",
    // dns2 is CommonJS and requires node built-ins
    banner: { js: `// mesh-dns, bundled by amphi from src/${ENTRY}\nimport { createRequire as __amphiRequire } from 'node:module'; const require = __amphiRequire(import.meta.url);` },
  });
  return Buffer.from(r.outputFiles[0]!.contents);
}

/** Builds the bundle into `dir` as {@link meshDnsBundleName} (what `npm run build` does for dist/) and returns
 * the file's path. */
export async function writeMeshDnsBundle(dir: string): Promise<string> {
  const file = join(dir, meshDnsBundleName());
  writeAtomically(file, await buildMeshDnsBundle());
  return file;
}

/** The program from the first place that has it for the current sources: the prebuilt bundle in `distDir`,
 * the cache, else a fresh build (then written to the cache, best-effort: a read-only directory only costs a
 * build next time). */
export async function loadMeshDnsProgram(places: BundlePlaces): Promise<MeshDnsProgram> {
  const name = meshDnsBundleName();
  const code = readIfThere(join(places.distDir, name)) ?? readIfThere(join(places.cacheDir, name)) ?? (await buildAndCache(join(places.cacheDir, name)));
  return { code, sha256: createHash("sha256").update(code).digest("hex") };
}

/** `uname -m` of the machines this process's native code runs on, for Node's `process.arch`. */
const MACHINES: Record<string, string[]> = { x64: ["x86_64", "amd64"], arm64: ["aarch64", "arm64"], ia32: ["i686", "i386"], arm: ["armv7l", "armv6l"], riscv64: ["riscv64"], s390x: ["s390x"], ppc64: ["ppc64le"] };

/** mesh-dns's batched UDP addon as built here (build/native/udp-batch.node, scripts/build-native.mjs), when
 * a host with machine `machine` (its `uname -m`) can load it: this process's architecture, Linux. Null when
 * it is not built or the host differs: mesh-dns there uses node:dgram and logs so. */
export function meshDnsAddon(machine: string): MeshDnsProgram | null {
  if (process.platform !== "linux" || !(MACHINES[process.arch] ?? []).includes(machine)) return null;
  // Read and hashed once per process, as the program is (once per host and run otherwise).
  if (addon === undefined) {
    const code = readIfThere(join(ROOT, "build", "native", "udp-batch.node"));
    addon = code ? { code, sha256: createHash("sha256").update(code).digest("hex") } : null;
  }
  return addon;
}

let addon: MeshDnsProgram | null | undefined;

let loaded: Promise<MeshDnsProgram> | undefined;

/** The mesh-dns program for this process (looked up once): dist/ of this package, else
 * `.amphi/cache` under the working directory, else built. */
export function meshDnsProgram(): Promise<MeshDnsProgram> {
  loaded ??= loadMeshDnsProgram({ distDir: join(ROOT, "dist"), cacheDir: join(process.cwd(), ".amphi", "cache") });
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

async function buildAndCache(file: string): Promise<Buffer> {
  const code = await buildMeshDnsBundle();
  try {
    writeAtomically(file, code);
  } catch {
    // best-effort cache
  }
  return code;
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, code: Buffer): void {
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(`${file}.tmp.${process.pid}`, code);
  renameSync(`${file}.tmp.${process.pid}`, file);
}

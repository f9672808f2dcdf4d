#!/usr/bin/env node
// Builds amphi's native addons with the C compiler and Node's own headers: no node-gyp, no Python, no network.
// Linux only. Each is skipped when its output is current (its .stamp holds the hash of the source, flags and node
// version), and none is ever fatal: without one, the code that uses it falls back and says so; this prints why.
//   - native/udp-batch/udp_batch.c → build/native/udp-batch.node: mesh-dns's batched UDP (else node:dgram)
//   - native/spawn/spawn.c → build/native/spawn.node: posix_spawn for kubectl and git (else child_process's fork)
//   node scripts/build-native.mjs [--quiet]
// Run by scripts/build.mjs and scripts/ensure-deps.mjs (--build, --test); tests run this script (test/dns/tools.ts)
// and build a variant with compileAddon.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The addons: source, output (the code that loads each looks there) and what runs without it. */
const ADDONS = {
  "udp-batch": { source: join(root, "native", "udp-batch", "udp_batch.c"), module: "udp_batch", what: "batched UDP I/O", without: "mesh-dns will use node:dgram for UDP" },
  spawn: { source: join(root, "native", "spawn", "spawn.c"), module: "spawn", what: "posix_spawn", without: "kubectl and git start through child_process (fork)" },
};
/** Where an addon is written (src/adapters/dns-server/udp-batch.ts, src/adapters/process/spawn.ts look there). */
const outputOf = (name) => join(root, "build", "native", `${name}.node`);
/** Where the batched UDP addon is written. */
export const ADDON = outputOf("udp-batch");
/** Where the spawn addon is written. */
export const SPAWN_ADDON = outputOf("spawn");

/** Node's headers (node_api.h, uv.h): next to this node binary's prefix, else $AMPHI_NODE_HEADERS. */
function headers() {
  const dirs = [process.env.AMPHI_NODE_HEADERS, join(dirname(process.execPath), "..", "include", "node")].filter(Boolean);
  return dirs.find((d) => existsSync(join(d, "node_api.h")) && existsSync(join(d, "uv.h")));
}

/** The compiler flags for addon `name`, with Node's headers; or why there are none (no headers found). */
function compileFlags(name) {
  const include = headers();
  if (!include) return { error: "Node's headers (node_api.h, uv.h) not found; set AMPHI_NODE_HEADERS" };
  return { flags: ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", `-DNODE_GYP_MODULE_NAME=${ADDONS[name].module}`, `-I${include}`] };
}

/** Compiles addon `name` (default the batched UDP one) into `out` (through a temp file of this process, renamed:
 * builds running at once do not mix), with `extra` flags after the usual ones (tests build a copy with another ABI
 * number). Returns null, or why it failed. */
export function compileAddon(out, { cc = process.env.CC || "cc", flags = null, extra = [], name = "udp-batch" } = {}) {
  if (flags === null) {
    const found = compileFlags(name);
    if (found.error) return found.error;
    flags = found.flags;
  }
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...flags, ...extra, "-o", tmp, ADDONS[name].source], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error ? `${cc}: ${r.error.message}` : `${cc} exited ${r.status}: ${r.stderr.trim().split("\n").slice(0, 5).join(" | ")}`;
    return `compiling native/${name} failed (${why})`;
  }
  renameSync(tmp, out);
  return null;
}

/** Builds addon `name` when it is missing or stale. Returns `{ built, path }` or `{ skipped: reason }`. */
function buildAddon(name, quiet) {
  const { source, what } = ADDONS[name];
  if (process.platform !== "linux") return { skipped: `${what} is Linux-only (${process.platform})` };
  const found = compileFlags(name);
  if (found.error) return { skipped: found.error };
  const cc = process.env.CC || "cc";
  const { flags } = found;
  const out = outputOf(name);
  const stampFile = join(root, "build", "native", `${name}.stamp`);
  const stamp = createHash("sha256").update(readFileSync(source)).update(JSON.stringify([cc, flags, process.version, process.arch])).digest("hex");
  if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return { built: false, path: out };
  mkdirSync(dirname(out), { recursive: true });
  const failed = compileAddon(out, { cc, flags, name });
  if (failed) return { skipped: failed };
  writeFileSync(`${stampFile}.${process.pid}.tmp`, stamp);
  renameSync(`${stampFile}.${process.pid}.tmp`, stampFile);
  if (!quiet) console.error(`build-native: built build/native/${name}.node (${cc}, ${process.arch})`);
  return { built: true, path: out };
}

/** Builds every addon that is missing or stale; for one that cannot be built, prints (prefixed with `who`) why and
 * what runs without it. */
export function buildAddons(who, { quiet = false } = {}) {
  for (const [name, { what }] of Object.entries(ADDONS)) {
    const r = buildAddon(name, quiet);
    if (r.skipped) console.error(`${who}: ${what} addon not built: ${r.skipped}; ${ADDONS[name].without}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildAddons("build-native", { quiet: process.argv.includes("--quiet") });
}

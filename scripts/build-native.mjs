#!/usr/bin/env node
// Builds mesh-dns's batched UDP addon (native/udp-batch/udp_batch.c) into build/native/udp-batch.node with
// the C compiler and Node's own headers: no node-gyp, no Python, no network. Linux only. Skipped when the
// output is current (build/native/udp-batch.stamp holds the hash of the source, flags and node version).
// Never fatal: without the addon mesh-dns serves UDP through node:dgram (and says so); this prints why.
//   node scripts/build-native.mjs [--quiet]
// Run by scripts/build.mjs and scripts/ensure-deps.mjs (--build, --test); tests run this script (test/dns/tools.ts)
// and build a variant with compileAddon.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(root, "native", "udp-batch", "udp_batch.c");
/** Where the addon is written (src/adapters/dns-server/udp-batch.ts looks here). */
export const ADDON = join(root, "build", "native", "udp-batch.node");
const STAMP = join(root, "build", "native", "udp-batch.stamp");

/** Node's headers (node_api.h, uv.h): next to this node binary's prefix, else $AMPHI_NODE_HEADERS. */
function headers() {
  const dirs = [process.env.AMPHI_NODE_HEADERS, join(dirname(process.execPath), "..", "include", "node")].filter(Boolean);
  return dirs.find((d) => existsSync(join(d, "node_api.h")) && existsSync(join(d, "uv.h")));
}

/** The compiler flags, with Node's headers; or why there are none (no headers found). */
function compileFlags() {
  const include = headers();
  if (!include) return { error: "Node's headers (node_api.h, uv.h) not found; set AMPHI_NODE_HEADERS" };
  return { flags: ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-DNODE_GYP_MODULE_NAME=udp_batch", `-I${include}`] };
}

/** Compiles the addon into `out` (through a temp file of this process, renamed: builds running at once do not
 * mix), with `extra` flags after the usual ones (tests build a copy with another ABI number). Returns null, or
 * why it failed. */
export function compileAddon(out, { cc = process.env.CC || "cc", flags = null, extra = [] } = {}) {
  if (flags === null) {
    const found = compileFlags();
    if (found.error) return found.error;
    flags = found.flags;
  }
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...flags, ...extra, "-o", tmp, SOURCE], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error ? `${cc}: ${r.error.message}` : `${cc} exited ${r.status}: ${r.stderr.trim().split("\n").slice(0, 5).join(" | ")}`;
    return `compiling native/udp-batch failed (${why})`;
  }
  renameSync(tmp, out);
  return null;
}

/** Builds the addon when it is missing or stale. Returns `{ built, path }` or `{ skipped: reason }`. */
export function buildNative({ quiet = false } = {}) {
  if (process.platform !== "linux") return { skipped: `batched UDP I/O is Linux-only (${process.platform})` };
  const found = compileFlags();
  if (found.error) return { skipped: found.error };
  const cc = process.env.CC || "cc";
  const { flags } = found;
  const stamp = createHash("sha256").update(readFileSync(SOURCE)).update(JSON.stringify([cc, flags, process.version, process.arch])).digest("hex");
  if (existsSync(ADDON) && existsSync(STAMP) && readFileSync(STAMP, "utf8") === stamp) return { built: false, path: ADDON };
  mkdirSync(dirname(ADDON), { recursive: true });
  const failed = compileAddon(ADDON, { cc, flags });
  if (failed) return { skipped: failed };
  writeFileSync(`${STAMP}.${process.pid}.tmp`, stamp);
  renameSync(`${STAMP}.${process.pid}.tmp`, STAMP);
  if (!quiet) console.error(`build-native: built build/native/udp-batch.node (${cc}, ${process.arch})`);
  return { built: true, path: ADDON };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = buildNative({ quiet: process.argv.includes("--quiet") });
  if (r.skipped) console.error(`build-native: not built: ${r.skipped}; mesh-dns will use node:dgram for UDP`);
}

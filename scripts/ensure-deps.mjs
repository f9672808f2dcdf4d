#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm dependencies exactly as locked when node_modules is missing
// or was installed from another package-lock.json, and (for tests, when asked with --test) the Debian
// packages the integration tests need, and (--build) dist/ when it is older than src/; with either, amphi's
// native addons (batched UDP, spawn) when missing or stale (scripts/build-native.mjs). Runs before `npm test` and
// `npm run demo`; fast when all is there.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const stamp = join(root, "node_modules", ".amphi-lock-sha256");
const lockHash = createHash("sha256").update(readFileSync(join(root, "package-lock.json"))).digest("hex");

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`ensure-deps: ${cmd} ${args.join(" ")} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== lockHash) {
  console.error("ensure-deps: installing npm dependencies from package-lock.json (npm ci)");
  // --prefer-offline: a tarball already in npm's cache is used without asking the registry whether it changed (the
  // lock file names each package's exact version and integrity hash, which npm checks either way); on a machine
  // with a warm cache that took npm ci from 18.2 to 14.0 s here; with an empty cache it downloads as before.
  sh("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]);
  writeFileSync(stamp, lockHash);
}
// The compiled tree starts faster; bin/amphi.js uses it only while it matches src/.
let built = false; // build.mjs builds the addon too
if (process.argv.includes("--build")) {
  const { sourceStamp } = await import("./source-stamp.mjs");
  const stampFile = join(root, "dist", ".source-stamp");
  if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== sourceStamp(join(root, "src"))) {
    sh(process.execPath, [join(root, "scripts", "build.mjs")]);
    built = true;
  }
}
if (!built && (process.argv.includes("--build") || process.argv.includes("--test"))) {
  const { buildAddons } = await import("./build-native.mjs");
  buildAddons("ensure-deps");
}
const testDeps = join(root, "scripts", "install-test-deps.sh");
if (process.argv.includes("--test") && existsSync(testDeps)) sh("bash", [testDeps]);

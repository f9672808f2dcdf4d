#!/usr/bin/env node
// Compiles src/ to dist/ (tsc), copies the non-TypeScript files the code reads at run time (host scripts),
// bundles the CLI from dist/ into dist/cli-bundle/ (scripts/bundle-cli.mjs: what bin/amphi.js runs; its code
// finds files relative to its own dist/ file, so dist/ stays), bundles the mesh-dns program VM hosts run
// (dist/mesh-dns-<hash>.mjs, so capture tasks need no esbuild), builds mesh-dns's batched UDP addon
// (build/native/, scripts/build-native.mjs; without a compiler mesh-dns uses node:dgram), and records what
// src/ it was built from, last, so bin/amphi.js knows dist/ is current (scripts/source-stamp.mjs).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { sourceStamp } from "./source-stamp.mjs";
import { buildAddons } from "./build-native.mjs";
import { bundleCli } from "./bundle-cli.mjs";

const root = new URL("..", import.meta.url).pathname;
const src = join(root, "src");
const dist = join(root, "dist");
const stamp = sourceStamp(src);
rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const copyAssets = (d) => {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) copyAssets(p);
    else if (!/\.(ts|mts|cts)$/.test(name)) {
      const to = join(dist, relative(src, p));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(p, to);
    }
  }
};
copyAssets(src);
const cli = await bundleCli(dist);
// The same function the capture task falls back to when dist/ has no bundle of the current sources.
const { writeMeshDnsBundle } = await import(join(dist, "hosts", "mesh-dns-bundle.js"));
const bundle = await writeMeshDnsBundle(dist);
buildAddons("build", { quiet: true });
writeFileSync(join(dist, ".source-stamp"), stamp);
console.error(`build: dist/ compiled from src/, the CLI bundled as ${relative(root, cli)}, mesh-dns as ${relative(root, bundle)}`);

#!/usr/bin/env node
// amphi's executable. Runs the compiled CLI when dist/ was built from the current src/ (`npm run build`, done by
// `npm run demo` and `npm run bench` too): its bundle, dist/cli-bundle/main.js (scripts/bundle-cli.mjs: a few
// files instead of ~150 modules), else dist/cli/main.js; otherwise the TypeScript sources through tsx's loader.
// (`npm test` runs its own compiled copy, .test-build/tree/bin/amphi.js: see test/support/compiled-tree.mjs.)
// AMPHI_TSX=1 forces the sources. Why both: the compiled tree starts ~150 ms faster, and a stale dist/ must never
// run in place of edited sources: dist/.source-stamp lists every folder and file of src/ it was built from (names,
// sizes, mtimes), compared with src/ on every run (scripts/source-stamp.mjs).
import { existsSync, readFileSync } from "node:fs";
import { sourceStamp } from "../scripts/source-stamp.mjs";

const root = new URL("..", import.meta.url).pathname;
const stampFile = `${root}dist/.source-stamp`;
const fresh = process.env.AMPHI_TSX !== "1" && existsSync(stampFile) && readFileSync(stampFile, "utf8") === sourceStamp(`${root}src`);
if (!fresh) (await import("tsx/esm/api")).register();
const entry = !fresh ? "../src/cli/main.ts" : existsSync(`${root}dist/cli-bundle/main.js`) ? "../dist/cli-bundle/main.js" : "../dist/cli/main.js";
const { main } = await import(new URL(entry, import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));

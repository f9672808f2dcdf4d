#!/usr/bin/env node
// amphi's executable. Runs the compiled dist/ when it was built from the current src/ (`npm run build`,
// done by `npm run demo` and `npm run bench` too), otherwise the TypeScript sources through tsx's loader.
// (`npm test` runs its own compiled copy, .test-build/tree/bin/amphi.js: see test/support/compiled-tree.mjs.)
// AMPHI_TSX=1 forces the sources. Why both: the compiled tree starts ~150 ms faster, and a stale
// dist/ must never run in place of edited sources.
import { existsSync, readFileSync } from "node:fs";
import { sourceStamp } from "../scripts/source-stamp.mjs";

const root = new URL("..", import.meta.url).pathname;
const stampFile = `${root}dist/.source-stamp`;
const fresh = process.env.AMPHI_TSX !== "1" && existsSync(stampFile) && readFileSync(stampFile, "utf8") === sourceStamp(`${root}src`);
if (!fresh) (await import("tsx/esm/api")).register();
const entry = fresh ? "../dist/cli/main.js" : "../src/cli/main.ts";
const { main } = await import(new URL(entry, import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));

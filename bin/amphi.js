#!/usr/bin/env node
// amphi's executable. Runs the TypeScript sources through tsx's loader (its transform cache makes warm
// starts cheap), or the compiled dist/ when AMPHI_DIST=1 and `npm run build` has produced it.
import { register } from "tsx/esm/api";

const useDist = process.env.AMPHI_DIST === "1";
if (!useDist) register();
const entry = useDist ? "../dist/cli/main.js" : "../src/cli/main.ts";
const { main } = await import(new URL(entry, import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));

// Starting a TypeScript module of the repository in a new node process: tests that run one (a client process, a
// script that imports an adapter) ask here how.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Node options that make a process's stacks name the .ts lines of the compiled tree's files, as
 * --enable-source-maps does, reading a file's source map only when a stack names it (test/support/source-map-stacks.mjs
 * says why). */
export const SOURCE_MAP_STACKS: string[] = ["--import", fileURLToPath(new URL("./source-map-stacks.mjs", import.meta.url))];

/** A module to run or import in a new node process, and the node options that process needs. */
export interface Runnable {
  /** The file to run or import. */
  path: string;
  /** Node options for the process: for the compiled file, only the preload that maps its stacks to the .ts lines
   * (SOURCE_MAP_STACKS); tsx's loader for the .ts. */
  execArgv: string[];
}

/** How a new node process runs (or imports) the module `ts` (a .ts file's URL): its compiled .js beside it when
 * there is one — as in the compiled test tree test/run.mjs runs the tests from, where every .ts has its .js — else
 * the .ts itself under tsx (a test run by `node --import tsx --test` from the checkout). */
export function runnable(ts: URL): Runnable {
  const js = new URL(ts.href.replace(/\.ts$/, ".js"));
  if (ts.href.endsWith(".ts") && existsSync(js)) return { path: fileURLToPath(js), execArgv: SOURCE_MAP_STACKS };
  return { path: fileURLToPath(ts), execArgv: ["--import", "tsx"] };
}

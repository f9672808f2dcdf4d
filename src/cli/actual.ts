// Where a command's actual state comes from: `--actual FILE`, or the environment's targets read live
// through its readers (cli/context.ts).
import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError, type ActualState, type DesiredState, type Model } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { parseActualState, readActualJson } from "../diff/actual-file.js";
import type { Io } from "./common.js";
import type { HostOptions } from "./context.js";

/** The actual state of `opts.env`: from `opts.actual` when given, else read live. `desired` (the rendered
 * state) lets a file's in-sync resources share its objects instead of being held twice. */
export function actualFor(io: Io, model: Model, source: ConfigSource, opts: HostOptions & { env: string; actual?: string }, desired?: DesiredState): Promise<ActualState> {
  return opts.actual ? readActualFile(io, opts.actual, opts.env, desired) : readLive(io, model, source, opts.env, opts);
}

/** Reads the live actual state of an environment through its host sessions. The readers (kubectl, SSH, Consul
 * adapters) load here, so a plan of an `--actual` file never loads them. */
export async function readLive(io: Io, model: Model, source: ConfigSource, envName: string, opts: HostOptions): Promise<ActualState> {
  const { envContext, findEnv } = await import("./context.js");
  const ctx = envContext(io, source, findEnv(model, envName), opts);
  try {
    return await ctx.readActual();
  } finally {
    await ctx.close();
  }
}

/** Reads `--actual FILE` (JSON or YAML ActualState); errors name the file. A `.json` file is read in chunks,
 * resource by resource (a 10,000-app state is over 100 MB of text), and read whole only when that fails. */
export async function readActualFile(io: Io, file: string, envName: string, desired?: DesiredState): Promise<ActualState> {
  const path = resolve(io.cwd, file);
  if (file.endsWith(".json")) {
    const state = await readJsonInChunks(path, file, envName, desired).catch((e: unknown) => {
      if (e instanceof InputError) throw e;
      return null; // cannot open or read: the whole-text read below says why
    });
    if (state) return state;
  }
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read actual state ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  return parseActualState(text, file, envName, desired);
}


/** readActualJson over the file's chunks: null or an I/O rejection when the whole-text read must decide; an
 * InputError for problems in the content. */
async function readJsonInChunks(path: string, file: string, envName: string, desired?: DesiredState): Promise<ActualState | null> {
  const fh = await open(path, "r");
  try {
    const fill = async (into: Buffer, offset: number) => (await fh.read(into, offset, into.length - offset, null)).bytesRead;
    return await readActualJson(fill, file, envName, desired);
  } finally {
    await fh.close();
  }
}

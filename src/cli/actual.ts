// Where a command's actual state comes from: `--actual FILE`, or the environment's targets read live
// through its readers (cli/context.ts).
import { readSync } from "node:fs";
import { open, readFile, type FileHandle } from "node:fs/promises";
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

/** Reads `--actual FILE` (JSON or YAML ActualState); errors name the file. A `.json` regular file is read in chunks,
 * resource by resource (a 10,000-app state is over 100 MB of text), and read whole again only when the chunked
 * reader does not handle its content (a syntax error, odd structure: the whole-text parse gives the same result or
 * the usual error). Why only then: an error reading the file is reported (naming it), never retried, and any other
 * error is a fault to see, not to mask with a second read; a pipe or device (a FIFO named `*.json`) is read whole
 * once, as a second open would wait for another writer or read only what is left. */
export async function readActualFile(io: Io, file: string, envName: string, desired?: DesiredState): Promise<ActualState> {
  const path = resolve(io.cwd, file);
  const named = (e: unknown): never => {
    const errno = e as NodeJS.ErrnoException;
    if (e instanceof Error && typeof errno.code === "string" && typeof errno.syscall === "string") {
      throw new InputError(`cannot read actual state ${file}: ${errno.code === "ENOENT" ? "no such file" : errno.message}`);
    }
    throw e;
  };
  const fh = await open(path, "r").catch(named);
  let text: string;
  try {
    if (file.endsWith(".json") && (await fh.stat().catch(named)).isFile()) {
      const state = await readJsonInChunks(fh, file, envName, desired).catch(named);
      if (state) return state;
      text = await readFile(path, "utf8").catch(named);
    } else text = await fh.readFile("utf8").catch(named);
  } finally {
    await fh.close();
  }
  return parseActualState(text, file, envName, desired);
}

/** readActualJson over the file's chunks: null when the whole-text read must decide; an InputError for problems
 * in the content. The chunks of this regular file are read synchronously (as the config repo's files are): a
 * read from the page cache takes less than the trip through libuv's thread pool that fh.read makes of it. */
async function readJsonInChunks(fh: FileHandle, file: string, envName: string, desired?: DesiredState): Promise<ActualState | null> {
  const fill = async (into: Buffer, offset: number) => readSync(fh.fd, into, offset, into.length - offset, null);
  return readActualJson(fill, file, envName, desired);
}

// Where a command's actual state comes from: `--actual FILE`, or the environment's targets read live
// through its readers (cli/context.ts).
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError, type ActualState, type Model } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { parseActualState } from "../diff/actual-file.js";
import type { Io } from "./common.js";
import { envContext, findEnv, type HostOptions } from "./context.js";

/** The actual state of `opts.env`: from `opts.actual` when given, else read live. */
export function actualFor(io: Io, model: Model, source: ConfigSource, opts: HostOptions & { env: string; actual?: string }): Promise<ActualState> {
  return opts.actual ? readActualFile(io, opts.actual, opts.env) : readLive(io, model, source, opts.env, opts);
}

/** Reads the live actual state of an environment through its host sessions. */
export async function readLive(io: Io, model: Model, source: ConfigSource, envName: string, opts: HostOptions): Promise<ActualState> {
  const ctx = envContext(io, source, findEnv(model, envName), opts);
  try {
    return await ctx.readActual();
  } finally {
    await ctx.close();
  }
}

/** Reads `--actual FILE` (JSON or YAML ActualState); errors name the file. */
export async function readActualFile(io: Io, file: string, envName: string): Promise<ActualState> {
  const path = resolve(io.cwd, file);
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read actual state ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  return parseActualState(text, file, envName);
}

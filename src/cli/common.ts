// Shared pieces of the composition root: where output goes, how a config repo is opened,
// and how errors become exit codes (0 ok / no changes, 2 plan has changes, 3 some target could not be seen,
// 1 invalid input or error).
// The config loader, the sources and the secrets code are imported where a command first needs them, so that
// `amphi --version` and `--help` load none of them.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, InputError, formatProblem, type Model, type Problem } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { heapForRepo } from "./heap.js";

/** Exit codes of every command. `unseen`: a target (cluster, host, Consul) could not be read, so the result
 * is incomplete; it wins over `changes` (2) and loses to `error` (1). */
export const EXIT = { ok: 0, error: 1, changes: 2, unseen: 3 } as const;

/** Where a command writes: injectable so tests run commands in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Working directory that relative paths are resolved against. */
  cwd: string;
  /** Environment variables (tokens are read from here, never from flags). */
  env: NodeJS.ProcessEnv;
  /** Reads all of stdin (`amphi secret set` takes its value there, never from argv). */
  stdin?: () => Promise<string>;
}

/** The process's own stdout/stderr. */
export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/** Thrown by a command to end with a given exit code after it has printed what it had to say. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The example config repo shipped with amphi: the embedded default of `amphi demo`. */
export const EXAMPLE_REPO = fileURLToPath(new URL("../../examples/config", import.meta.url));

/** Options every command that reads the config repo accepts. */
export interface RepoOptions {
  repo?: string;
  rev?: string;
}

/** Opens the config repo: a Git revision (`--rev`, no checkout) or the directory itself. */
export async function openSource(io: Io, opts: RepoOptions): Promise<ConfigSource> {
  const dir = resolve(io.cwd, opts.repo ?? ".");
  if (!existsSync(dir)) throw new InputError(`config repo ${dir} does not exist (--repo)`);
  if (opts.rev) return new (await import("../adapters/git/rev-source.js")).GitRevSource(dir, opts.rev);
  return new (await import("../adapters/fs/dir-source.js")).DirSource(dir);
}

/** Loads and validates the model, printing warnings to stderr; ConfigError propagates to `runAction`. */
export async function loadRepo(io: Io, opts: RepoOptions): Promise<Model> {
  return (await loadRepoWithSource(io, opts)).model;
}

/** Like loadRepo, also returning the source (package files are read from it later). */
export async function loadRepoWithSource(io: Io, opts: RepoOptions): Promise<{ model: Model; source: ConfigSource }> {
  const [source, { loadModel }, { unlockSecrets }] = await Promise.all([openSource(io, opts), import("../config/index.js"), import("../secrets/unlock.js")]);
  // The repo's size decides how the heap grows (heap.ts).
  const model = await loadModel(source, { onDiscovered: heapForRepo });
  await unlockSecrets(model, io.env, io.cwd);
  printWarnings(io, model.warnings ?? []);
  return { model, source };
}

/** Says on stderr when `envName`'s secrets could not be decrypted for lack of an identity: a plan or report then
 * shows them as "(secret)" and does not compare them (an apply refuses). */
export function warnLockedSecrets(io: Io, model: Model, envName: string): void {
  const st = model.environments.find((e) => e.name === envName)?.secrets?.state;
  if (st?.kind === "locked") io.err(`amphi: warning: secret values of ${envName} are not decrypted (no AMPHI_AGE_KEY or AMPHI_AGE_KEY_FILE): they are not compared\n`);
}

/** Prints warnings (never errors) one per line. */
export function printWarnings(io: Io, problems: Problem[]): void {
  for (const p of problems) if (p.severity === "warning") io.err(formatProblem(p) + "\n");
}

/** Runs a command body and maps what it throws to an exit code and a message on stderr.
 * Why: users see `amphi: <subject>: <cause>`, not a stack trace, unless they ask with --debug. */
export async function runAction(io: Io, debug: boolean | undefined, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof ConfigError) {
      for (const p of e.problems) io.err(formatProblem(p) + "\n");
      const n = e.problems.filter((p) => p.severity === "error").length;
      io.err(`amphi: ${n} problem${n === 1 ? "" : "s"} found; nothing was rendered or applied\n`);
      return EXIT.error;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.err(`amphi: ${err.message}\n`);
    if (debug && !(e instanceof InputError)) io.err(`${err.stack ?? ""}\n`);
    return EXIT.error;
  }
}

/** Checks a `--format` value against the allowed ones. */
export function pickFormat<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T): T {
  const v = value ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new InputError(`unknown --format "${v}"; expected one of ${allowed.join(", ")}`);
  }
  return v as T;
}

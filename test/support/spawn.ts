// child_process.spawnSync for the test processes, without forking them: through runPipedSync
// (src/adapters/process/spawn.ts, the posix_spawn addon). A test process holds ~60–160 MB; a fork of it
// write-protects all of that, and every page it writes afterwards (each scavenge of its nursery) costs a fault,
// ~12–30 µs on the project's 2-core PVM VM: tens of milliseconds of the test process's CPU per child. The test
// processes started ~1,800 children a run that way. Same call and result as child_process.spawnSync for what
// tests use: `env`, `cwd`, `input`, `encoding` ("utf8": stdout and stderr as strings), `timeout`, `killSignal`,
// with stdout and stderr on pipes; a call with a `stdio` option goes to child_process itself (with "ignore", a
// daemon the command leaves running must not hold the call open, as it would hold a pipe).
import { spawnSync as forkSpawnSync, type SpawnSyncOptions } from "node:child_process";
import { runPipedSync } from "../../src/adapters/process/spawn.js";

/** The options this spawnSync takes (child_process's names and meanings). */
export interface SyncOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  timeout?: number;
  killSignal?: NodeJS.Signals;
  stdio?: SpawnSyncOptions["stdio"];
}

/** child_process.spawnSync's result (the fields tests read), with stdout and stderr as `T`. */
export interface SyncResult<T> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: T;
  stderr: T;
  error?: Error;
}

export function spawnSync(command: string, args: readonly string[], opts: SyncOptions & { encoding: "utf8" | "utf-8" }): SyncResult<string>;
export function spawnSync(command: string, args?: readonly string[], opts?: SyncOptions & { encoding?: "buffer" }): SyncResult<Buffer>;
/** Runs `command` to its end without forking this process (see the file's head); as child_process.spawnSync. */
export function spawnSync(command: string, args: readonly string[] = [], opts: SyncOptions & { encoding?: string } = {}): SyncResult<string> | SyncResult<Buffer> {
  const text = opts.encoding === "utf8" || opts.encoding === "utf-8";
  if (opts.stdio !== undefined) {
    return forkSpawnSync(command, args, { ...opts, encoding: text ? "utf8" : "buffer" }) as SyncResult<string> | SyncResult<Buffer>;
  }
  const r = runPipedSync(command, args, { env: opts.env, cwd: opts.cwd, input: opts.input, timeoutMs: opts.timeout, killSignal: opts.killSignal });
  const base = { status: r.status, signal: r.signal, ...(r.error ? { error: r.error } : {}) };
  if (text) {
    const [stdout, stderr] = [r.stdout.toString("utf8"), r.stderr.toString("utf8")];
    return { ...base, stdout, stderr };
  }
  return { ...base, stdout: r.stdout, stderr: r.stderr };
}

// Starting the child processes amphi runs by the hundred (kubectl, git, git cat-file) without a fork of this process:
// through the native addon native/spawn (posix_spawn, built by scripts/build-native.mjs into
// build/native/spawn.node), else through node:child_process. Why: child_process forks, and a fork of a process
// with a large heap costs it dearly on some machines (page tables copied, every page it writes afterwards a
// fault): on this project's 2-core VM ~160 ms of CPU per child from a process with 300 MB written between
// spawns, against ~1.7 ms through the addon (bench/spawn). `amphi serve` and the test processes are such
// processes. Both paths give the same object: what a caller of child_process.spawn with three pipes uses
// (spawnPiped, runPiped), or child_process.spawnSync's result (runPipedSync, for the test processes' own helpers).
import { spawn as forkSpawn, spawnSync as forkSpawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { accessSync, constants, statSync } from "node:fs";
import { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { getSystemErrorName } from "node:util";

/** A started child with its three pipes: the part of child_process's ChildProcess amphi uses. Events: `error`
 * (it could not be started: `code` ENOENT, EACCES …; nothing else follows), `exit` (code, signal), `close`
 * (code, signal: after `exit` and once stdout and stderr have ended). */
export interface PipedChild extends EventEmitter {
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Sends `signal` (default SIGTERM) while the child has not been reaped; false once it has, or on failure. */
  kill(signal?: NodeJS.Signals): boolean;
  /** As ChildProcess's: whether waiting for the child's exit keeps Node's event loop alive (its pipes have their own). */
  ref(): void;
  unref(): void;
}

export interface PipedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The child leads a new session and process group (`setsid`), so a kill of `-pid` reaches what it started. */
  detached?: boolean;
}

/** The addon's function (native/spawn/spawn.c says what it does). */
interface Addon {
  ABI: number;
  spawn(path: string, argv: string[], envp: string[], cwd: string | null, setsid: boolean, onExit: (code: number, signal: number) => void): [number, number, number, number] | number;
  spawnSync(path: string, argv: string[], envp: string[], cwd: string | null, setsid: boolean, input: Buffer | null, timeoutMs: number, killSignal: number): [number, number, Buffer, Buffer, boolean] | number;
  ref(pid: number, on: boolean): boolean;
}

/** The addon API this code calls (native/spawn/spawn.c's SPAWN_ABI): another number is a stale build. */
export const ADDON_ABI = 2;

/** Where the addon is built: build/native/ of this package (from src/ and dist/ alike). */
export const SPAWN_ADDON = fileURLToPath(new URL("../../../build/native/spawn.node", import.meta.url));

let loaded: { addon: Addon } | { error: string } | undefined;

/** The addon, or why it is not used: AMPHI_SPAWN=fork turns it off; another platform; not built; stale. */
export function spawnAddon(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  if (process.env.AMPHI_SPAWN === "fork") return (loaded = { error: "AMPHI_SPAWN=fork" });
  if (process.platform !== "linux") return (loaded = { error: `posix_spawn through the addon is Linux-only (this is ${process.platform})` });
  try {
    const mod = { exports: {} as Addon };
    process.dlopen(mod, SPAWN_ADDON);
    if (typeof mod.exports.spawn !== "function") loaded = { error: `${SPAWN_ADDON}: not the spawn addon` };
    else if (mod.exports.ABI !== ADDON_ABI) loaded = { error: `${SPAWN_ADDON}: a stale spawn addon (ABI ${mod.exports.ABI ?? "none"}, this program needs ${ADDON_ABI}); rebuild it (npm run build)` };
    else loaded = { addon: mod.exports };
  } catch (e) {
    loaded = { error: `${SPAWN_ADDON} not loaded: ${(e as Error).message.split("\n")[0]}` };
  }
  return loaded;
}

/** Starts `command` with `args`, stdin, stdout and stderr on pipes: through the addon when it loads, else
 * child_process.spawn. A command without `/` is looked up on the PATH of `env` (as child_process does). */
export function spawnPiped(command: string, args: readonly string[], opts: PipedOptions = {}): PipedChild {
  const loadedAddon = spawnAddon();
  if ("error" in loadedAddon) return forkSpawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, detached: opts.detached ?? false, stdio: ["pipe", "pipe", "pipe"] }) as PipedChild;
  return new AddonChild(loadedAddon.addon, command, args, opts);
}

/** What a command run to its end printed, and how it ended. */
export interface PipedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Runs `command` to its end through spawnPiped: `input` (default none) on its stdin, which is closed either way
 * (a command that exits without reading it is fine); SIGKILL after `timeoutMs` when given. Resolves whatever the
 * exit; rejects only when it cannot start (the `error` of spawnPiped: `code` ENOENT, EACCES …). */
export function runPiped(command: string, args: readonly string[], opts: PipedOptions & { input?: string; timeoutMs?: number } = {}): Promise<PipedRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnPiped(command, args, opts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** How a command run by {@link runPipedSync} ended: the fields of child_process.spawnSync's result amphi uses. */
export interface PipedSyncRun {
  /** The exit code; null when a signal ended it or it could not start. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** It could not start (`code` ENOENT, EACCES …), or it ran past `timeoutMs` (`code` ETIMEDOUT), as spawnSync says. */
  error?: NodeJS.ErrnoException;
}

/** Runs `command` to its end, blocking this thread as child_process.spawnSync does: `input` (default none) on its
 * stdin, then closed; `killSignal` (default SIGTERM) after `timeoutMs` when given. Through the addon when it loads
 * (no fork of this process: see the file's head), else child_process.spawnSync with three pipes. It waits, as
 * spawnSync does, until the command has exited and closed stdout and stderr. */
export function runPipedSync(command: string, args: readonly string[], opts: Omit<PipedOptions, "detached"> & { input?: string | Buffer; timeoutMs?: number; killSignal?: NodeJS.Signals } = {}): PipedSyncRun {
  const env = opts.env ?? process.env;
  const loadedAddon = spawnAddon();
  if ("error" in loadedAddon) {
    const r = forkSpawnSync(command, args, { env, cwd: opts.cwd, input: opts.input, timeout: opts.timeoutMs, killSignal: opts.killSignal, stdio: ["pipe", "pipe", "pipe"], maxBuffer: Infinity });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? Buffer.alloc(0), stderr: r.stderr ?? Buffer.alloc(0), ...(r.error ? { error: r.error } : {}) };
  }
  const path = findExecutable(command, env, opts.cwd);
  const envp = envList(env);
  const input = opts.input === undefined || opts.input.length === 0 ? null : Buffer.from(opts.input);
  const killSignal = osConstants.signals[opts.killSignal ?? "SIGTERM"];
  const r = path === null ? -2 /* ENOENT */ : loadedAddon.addon.spawnSync(path, [command, ...args], envp, opts.cwd ? resolve(opts.cwd) : null, false, input, opts.timeoutMs ?? 0, killSignal);
  if (typeof r === "number") return { status: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), error: startError("spawnSync", command, args, r) };
  const [code, signal, stdout, stderr, timedOut] = r;
  const name = signal ? signalName(signal) : null;
  const run: PipedSyncRun = { status: name ? null : code, signal: name, stdout, stderr };
  if (timedOut) run.error = startError("spawnSync", command, args, -osConstants.errno.ETIMEDOUT);
  return run;
}

class AddonChild extends EventEmitter implements PipedChild {
  pid: number | undefined;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  private reaped = false;

  constructor(
    private readonly addon: Addon,
    command: string,
    args: readonly string[],
    opts: PipedOptions,
  ) {
    super();
    const env = opts.env ?? process.env;
    const path = findExecutable(command, env, opts.cwd);
    const envp = envList(env);
    const cwd = opts.cwd ? resolve(opts.cwd) : null;
    let exit: [number | null, NodeJS.Signals | null] | null = null;
    let open = 2; // stdout and stderr
    const closeIfDone = (): void => {
      if (exit && open === 0) this.emit("close", ...exit);
    };
    const started = path === null ? -2 /* ENOENT */ : addon.spawn(path, [command, ...args], envp, cwd, opts.detached ?? false, (code, signal) => {
      this.reaped = true;
      const name = signal ? signalName(signal) : null;
      exit = [name ? null : code, name];
      this.emit("exit", ...exit);
      closeIfDone();
    });
    if (typeof started === "number") {
      this.stdin = new Socket().destroy();
      this.stdout = new Socket().destroy();
      this.stderr = new Socket().destroy();
      const error = startError("spawn", command, args, started);
      process.nextTick(() => this.emit("error", error));
      return;
    }
    const [pid, stdinFd, stdoutFd, stderrFd] = started;
    this.pid = pid;
    this.stdin = new Socket({ fd: stdinFd, readable: false, writable: true });
    this.stdout = new Socket({ fd: stdoutFd, readable: true, writable: false });
    this.stderr = new Socket({ fd: stderrFd, readable: true, writable: false });
    for (const s of [this.stdout, this.stderr]) {
      s.once("close", () => {
        open--;
        closeIfDone();
      });
    }
  }

  ref(): void {
    if (!this.reaped && this.pid !== undefined) this.addon.ref(this.pid, true);
  }

  unref(): void {
    if (!this.reaped && this.pid !== undefined) this.addon.ref(this.pid, false);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.reaped || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** The executable `command` names: itself when it has a `/` (relative to `cwd`), else the first executable file
 * of that name on `env.PATH`; null when there is none. (statSync without throwing: a miss in each PATH folder
 * before the hit is common, and an exception per miss on every spawn is not free.) */
export function findExecutable(command: string, env: NodeJS.ProcessEnv, cwd?: string): string | null {
  if (command.includes("/")) return isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command);
  for (const dir of (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    const candidate = join(dir || ".", command);
    if (!statSync(candidate, { throwIfNoEntry: false })?.isFile()) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not executable for us: next */
    }
  }
  return null;
}

/** An environment as the addon takes it: "K=V" strings, unset values left out. */
function envList(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

/** The error child_process gives for a command that could not start or ran out of time (negative `errno`):
 * `code` ENOENT, EACCES, ETIMEDOUT …, with the syscall, the command and its arguments. */
function startError(syscall: "spawn" | "spawnSync", command: string, args: readonly string[], errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${syscall} ${command} ${code}`), { errno, code, syscall: `${syscall} ${command}`, path: command, spawnargs: [...args] });
}

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

function signalName(n: number): NodeJS.Signals | null {
  return SIGNAL_NAMES.get(n) ?? null;
}

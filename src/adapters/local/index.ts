// The local transport: runs a host task's argv vectors on this machine, the same argv the ssh adapter
// runs remotely. Used for pull mode (one amphi per host) and for the demo's `transport: local` default.
import { copyFile, rename, rm } from "node:fs/promises";
import { constants } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { TransportError, type ExecOptions, type ExecResult, type HostConnector, type HostRef, type HostSession } from "../../ports/hosts.js";
import { spawnPiped } from "../process/spawn.js";

/** Options of the local connector. */
export interface LocalConnectorOptions {
  /** Directory a relative `HostRef.baseDir` is resolved against (the config repo or the working dir). */
  cwd?: string;
  /** Timeout of a command that sets none; default 120 s. */
  commandTimeoutMs?: number;
}

/** Opens sessions on this machine. No connection exists, so `open` only resolves the base dir. */
export class LocalConnector implements HostConnector {
  private readonly sessions = new Set<LocalSession>();

  constructor(private readonly opts: LocalConnectorOptions = {}) {}

  /** A session for `host` whose `baseDir` is absolute (resolved against `cwd`). */
  async open(host: HostRef, signal?: AbortSignal): Promise<HostSession> {
    if (signal?.aborted) throw new TransportError(host.host, "aborted before the session opened", "aborted");
    const cwd = this.opts.cwd ?? process.cwd();
    const ref: HostRef = { ...host, baseDir: isAbsolute(host.baseDir) ? host.baseDir : resolve(cwd, host.baseDir) };
    const session = new LocalSession(ref, cwd, this.opts.commandTimeoutMs ?? 120_000, () => this.sessions.delete(session));
    this.sessions.add(session);
    return session;
  }

  /** Closes every open session (killing the commands they still run). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close()));
  }
}

/** One "connection" to this machine: tracks its running commands so close() can kill them. */
class LocalSession implements HostSession {
  /** Kill functions of the commands in flight. */
  private readonly running = new Set<(why: TransportError) => void>();
  private closed = false;

  constructor(
    readonly host: HostRef,
    private readonly cwd: string,
    private readonly timeoutMs: number,
    private readonly onClose: () => void,
  ) {}

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const name = this.host.host;
    if (this.closed) return Promise.reject(new TransportError(name, "session is closed", "closed"));
    if (argv.length === 0) return Promise.reject(new TransportError(name, "empty command", "io"));
    if (opts.signal?.aborted) return Promise.reject(new TransportError(name, `${argv[0]} aborted before it started`, "aborted"));
    return new Promise((resolvePromise, reject) => {
      // detached: the command leads its own process group, so a timeout or abort kills what it spawned too.
      const child = spawnPiped(argv[0] as string, argv.slice(1), { cwd: this.cwd, detached: true });
      let stdout = "";
      let stderr = "";
      let failure: TransportError | undefined;
      const pid = child.pid;
      const killGroup = (why: TransportError) => {
        failure ??= why;
        if (pid !== undefined) killQuietly(-pid);
      };
      this.running.add(killGroup);
      const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
      const timer = setTimeout(() => killGroup(new TransportError(name, `${argv[0]} timed out after ${timeoutMs} ms`, "timeout")), timeoutMs);
      const onAbort = () => killGroup(new TransportError(name, `${argv[0]} aborted`, "aborted"));
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const finish = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.running.delete(killGroup);
      };
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        opts.onStdout?.(d);
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        opts.onStderr?.(d);
      });
      child.on("error", (err: NodeJS.ErrnoException) => {
        finish();
        // Like a remote shell: a missing program is exit 127, not a transport failure.
        if (err.code === "ENOENT") resolvePromise({ code: 127, stdout, stderr: `${argv[0]}: not found\n` });
        else reject(new TransportError(name, `cannot run ${argv[0]}: ${err.message}`, "io"));
      });
      child.on("close", (code: number | null, sig: NodeJS.Signals | null) => {
        finish();
        if (failure) reject(failure);
        else resolvePromise({ code: code ?? 128 + signalNumber(sig), stdout, stderr });
      });
      child.stdin.on("error", () => {}); // the command may exit without reading its input
      child.stdin.end(opts.stdin ?? "");
    });
  }

  async putFile(localPath: string, remotePath: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const name = this.host.host;
    if (this.closed) throw new TransportError(name, "session is closed", "closed");
    if (opts.signal?.aborted) throw new TransportError(name, `copy to ${remotePath} aborted`, "aborted");
    const target = isAbsolute(remotePath) ? remotePath : resolve(this.cwd, remotePath);
    // Copy next to the target, then rename: a reader never sees half a file.
    const tmp = `${target}.tmp.${process.pid}`;
    try {
      await copyFile(localPath, tmp);
      if (opts.signal?.aborted) throw new TransportError(name, `copy to ${remotePath} aborted`, "aborted");
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      if (err instanceof TransportError) throw err;
      throw new TransportError(name, `cannot copy ${localPath} to ${remotePath}: ${(err as Error).message}`, "io");
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const kill of this.running) kill(new TransportError(this.host.host, "session closed while a command ran", "closed"));
    this.running.clear();
    this.onClose();
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The shell's convention for a command killed by a signal: 128 + the signal's number. */
function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : (constants.signals[sig] ?? 0);
}

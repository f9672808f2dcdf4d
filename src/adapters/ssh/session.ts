// One open SSH connection to a host, reused for every command and upload of a run. Each command is an
// exec channel (at most MAX_CHANNELS at once); a timeout or abort kills it (signal KILL: sshd sends it
// to the command's whole process group) and closes the channel; a dropped connection rejects every
// command in flight and every later one with a "closed" TransportError, without touching the others.
import { createReadStream, statSync } from "node:fs";
import type { Duplex } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { Client, ClientChannel } from "ssh2";
import type { ExecOptions, ExecResult, HostRef, HostSession } from "../../ports/hosts.js";
import { TransportError } from "../../ports/hosts.js";
import { secs } from "./dial.js";
import { commandLine, commandSummary } from "./quote.js";
import { Slots } from "./slots.js";

/** Channels open at once per connection: below sshd's default MaxSessions (10), leaving room for an
 * operator's own `ssh` multiplexed over a ControlMaster. */
export const MAX_CHANNELS = 8;

/** Upload script: write a temp file next to the target, then rename (readers never see half a file). */
const PUT_SCRIPT = 't="$1.tmp.$$"; cat > "$t" && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }';

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15 };

/** What a session is built from. */
export interface SessionParts {
  client: Client;
  sock: Duplex;
  /** `user@address:port`, for messages. */
  where: string;
  commandTimeoutMs: number;
  /** Called once when the session ends (closed or lost), so the connector forgets it. */
  onEnd: (session: SshSession) => void;
}

type Feed = (ch: ClientChannel, fail: (err: TransportError) => void) => (() => void) | void;

/** A HostSession over one ssh2 connection. */
export class SshSession implements HostSession {
  private ended: TransportError | null = null;
  private lastError: Error | undefined;
  private readonly inFlight = new Set<(err: TransportError) => void>();
  private readonly slots = new Slots(MAX_CHANNELS);
  private readonly closed: Promise<void>;

  constructor(
    readonly host: HostRef,
    private readonly parts: SessionParts,
  ) {
    parts.client.on("error", (err) => (this.lastError = err));
    this.closed = new Promise((resolve) =>
      parts.client.once("close", () => {
        const cause = this.lastError ? `: ${(this.lastError as NodeJS.ErrnoException).code ?? this.lastError.message}` : " (closed by the host)";
        this.end(`connection to ${parts.where} lost${cause}`);
        resolve();
      }),
    );
  }

  /** False once the connection was closed or lost. */
  get alive(): boolean {
    return this.ended === null;
  }

  /** Runs argv (every element shell-quoted) and resolves with its exit code and output. */
  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.run(commandLine(argv), opts, (ch) => {
      if (opts.stdin !== undefined) ch.write(opts.stdin);
      ch.end();
    });
  }

  /** Streams the file into a temp file on the host over an exec channel, then renames it into place. */
  async putFile(localPath: string, remotePath: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      if (!statSync(localPath).isFile()) throw new Error("not a file");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw this.error(`putFile ${localPath}: ${code === "ENOENT" ? "no such file" : (code ?? (err as Error).message)}`, "io");
    }
    const cmd = commandLine(["sh", "-c", PUT_SCRIPT, "amphi-put", remotePath]);
    const r = await this.run(cmd, { signal: opts.signal }, (ch, fail) => {
      const src = createReadStream(localPath);
      src.on("error", (err) => fail(this.error(`putFile ${localPath}: ${err.message}`, "io")));
      src.pipe(ch);
      return () => src.destroy();
    });
    if (r.code !== 0) throw this.error(`putFile ${remotePath} failed (exit ${r.code}): ${r.stderr.trim()}`, "io");
  }

  /** Ends the connection; commands still running reject with "session closed". */
  async close(): Promise<void> {
    this.end("session closed");
    const { client } = this.parts;
    client.end();
    let force: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      force = setTimeout(() => (client.destroy(), resolve()), 2000); // a host that never answers
      void this.closed.then(resolve);
    });
    clearTimeout(force);
  }

  private error(text: string, kind: TransportError["kind"]): TransportError {
    return new TransportError(this.host.host, text, kind);
  }

  private end(text: string): void {
    if (this.ended) return;
    this.ended = this.error(text, "closed");
    for (const stop of [...this.inFlight]) stop(this.ended);
    this.parts.onEnd(this);
  }

  /** One exec channel: wait for a slot, open, feed stdin, collect output until the channel closes. */
  private run(cmd: string, opts: ExecOptions, feed: Feed): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const summary = commandSummary(cmd);
      if (this.ended) return reject(this.ended);
      if (opts.signal?.aborted) return reject(this.error(`command aborted: ${summary}`, "aborted"));
      const timeoutMs = opts.timeoutMs ?? this.parts.commandTimeoutMs;
      const out = new Output(opts.onStdout);
      const err = new Output(opts.onStderr);
      let settled = false;
      let channel: ClientChannel | undefined;
      let cleanup: (() => void) | void;
      let cancelWait = () => {};
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.inFlight.delete(stop);
        cancelWait();
        cleanup?.();
        finish();
      };
      const stop = (e: TransportError) =>
        settle(() => {
          if (channel) kill(channel);
          reject(e);
        });
      const onAbort = () => stop(this.error(`command aborted: ${summary}`, "aborted"));
      const timer = setTimeout(() => stop(this.error(`command timed out after ${secs(timeoutMs)}: ${summary}`, "timeout")), timeoutMs);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.inFlight.add(stop);

      const opened = (ch: ClientChannel, release: () => void) => {
        ch.on("error", () => {}); // e.g. a write after the command exited: its exit code tells
        ch.once("close", release);
        if (settled) return kill(ch); // timed out or aborted while the channel was opening
        channel = ch;
        let code: number | null = null;
        let signal: string | undefined;
        ch.on("exit", (c: number | null, s?: string) => ((code = c), (signal = s)));
        ch.on("data", (d: Buffer) => out.push(d));
        ch.stderr.on("data", (d: Buffer) => err.push(d));
        ch.once("close", () => {
          if (this.ended) return stop(this.ended); // the connection went down under the command
          settle(() => resolve(exitResult(code, signal, out.text(), err.text())));
        });
        cleanup = feed(ch, stop);
      };

      cancelWait = this.slots.acquire(() => {
        let released = false;
        const release = () => {
          if (!released) (released = true), this.slots.release();
        };
        if (settled) return release();
        try {
          this.parts.client.exec(cmd, (e, ch) => {
            if (!e) return opened(ch, release);
            release();
            stop(this.ended ?? this.error(`cannot open a channel for ${summary}: ${e.message}`, "io"));
          });
        } catch (e) {
          release();
          stop(this.ended ?? this.error(`cannot run ${summary}: ${(e as Error).message}`, "closed"));
        }
      });
    });
  }
}

/** ssh2 internals used by kill(); checked at run time, so another ssh2 version degrades to close(). */
interface ChannelInternals {
  outgoing?: { state?: string; id?: number };
  _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
}

/** Kills the remote command and closes the channel. Why not ch.signal(): ssh2 sends nothing once our
 * side sent EOF (always, right after stdin), and sshd keeps a closed session's channel until its
 * command exits, so `sleep 600` would hold a channel for ten minutes. SSH allows the request after
 * EOF; sshd delivers it to the command's process group. */
function kill(ch: ClientChannel): void {
  try {
    const c = ch as unknown as ChannelInternals;
    const id = c.outgoing?.id;
    const send = c._client?._protocol?.signal;
    if ((c.outgoing?.state === "open" || c.outgoing?.state === "eof") && typeof id === "number" && send) send.call(c._client?._protocol, id, "KILL");
    else ch.signal("KILL");
  } catch {
    // the channel is already closing
  }
  try {
    ch.close();
  } catch {
    // already closed
  }
}

/** The result of a channel that closed: killed by a signal → 128 + its number; no status → 255. */
function exitResult(code: number | null, signal: string | undefined, stdout: string, stderr: string): ExecResult {
  if (code !== null) return { code, stdout, stderr };
  if (signal) {
    const name = signal.replace(/^SIG/, ""); // ssh2 reports "SIGTERM"
    return { code: 128 + (SIGNALS[name] ?? 127), stdout, stderr: `${stderr}amphi: remote command killed by signal ${name}\n` };
  }
  return { code: 255, stdout, stderr: `${stderr}amphi: channel closed without an exit status\n` };
}

/** Decodes UTF-8 across chunk boundaries, streams to a callback, keeps the whole text. */
class Output {
  private readonly decoder = new StringDecoder("utf8");
  private readonly parts: string[] = [];

  constructor(private readonly onChunk?: (chunk: string) => void) {}

  push(chunk: Buffer): void {
    this.add(this.decoder.write(chunk));
  }

  text(): string {
    this.add(this.decoder.end());
    return this.parts.join("");
  }

  private add(s: string): void {
    if (s === "") return;
    this.parts.push(s);
    this.onChunk?.(s);
  }
}

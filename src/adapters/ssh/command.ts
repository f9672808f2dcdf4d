// One remote command on an exec channel: wait for a channel slot → open → feed stdin → collect output
// until the channel closes. A timeout or abort kills the command and closes the channel; the session
// going down rejects it with the session's "closed" error. Settles exactly once.
import type { Client, ClientChannel } from "ssh2";
import { StringDecoder } from "node:string_decoder";
import type { ExecOptions, ExecResult, TransportError } from "../../ports/hosts.js";
import { secs } from "./dial.js";
import { commandSummary } from "./quote.js";
import type { Slots } from "./slots.js";

/** What a command needs from its session. */
export interface CommandContext {
  client: Client;
  slots: Slots;
  /** Commands in flight; the session calls each with its error when the connection ends. */
  inFlight: Set<(err: TransportError) => void>;
  /** The session's "closed" error once it ended, else null. */
  ended(): TransportError | null;
  error(text: string, kind: TransportError["kind"]): TransportError;
}

/** Writes the command's stdin; may fail the command; returns a cleanup for when it settles. */
export type Feed = (ch: ClientChannel, fail: (err: TransportError) => void) => (() => void) | void;

/** Runs `cmd` (a complete sh command line) and resolves with its exit code and output. */
export function runCommand(ctx: CommandContext, cmd: string, opts: ExecOptions & { timeoutMs: number }, feed: Feed): Promise<ExecResult> {
  return new Promise((resolve, reject) => new RemoteCommand(ctx, cmd, opts, feed, resolve, reject).start());
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15 };

class RemoteCommand {
  private settled = false;
  private channel: ClientChannel | undefined;
  private cleanup: (() => void) | void = undefined;
  private cancelWait = () => {};
  private timer: NodeJS.Timeout | undefined;
  private readonly summary: string;
  private readonly out: Output;
  private readonly err: Output;

  constructor(
    private readonly ctx: CommandContext,
    private readonly cmd: string,
    private readonly opts: ExecOptions & { timeoutMs: number },
    private readonly feed: Feed,
    private readonly resolve: (r: ExecResult) => void,
    private readonly reject: (e: TransportError) => void,
  ) {
    this.summary = commandSummary(cmd);
    this.out = new Output(opts.onStdout);
    this.err = new Output(opts.onStderr);
  }

  start(): void {
    const ended = this.ctx.ended();
    if (ended) return this.reject(ended);
    if (this.opts.signal?.aborted) return this.onAbort();
    const { timeoutMs } = this.opts;
    this.timer = setTimeout(() => this.stop(this.ctx.error(`command timed out after ${secs(timeoutMs)}: ${this.summary}`, "timeout")), timeoutMs);
    this.opts.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.ctx.inFlight.add(this.stop);
    this.cancelWait = this.ctx.slots.acquire(() => this.open());
  }

  /** Fails the command: kills it if it runs. */
  private readonly stop = (e: TransportError): void =>
    this.settle(() => {
      if (this.channel) kill(this.channel);
      this.reject(e);
    });

  private readonly onAbort = (): void => this.stop(this.ctx.error(`command aborted: ${this.summary}`, "aborted"));

  private settle(finish: () => void): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener("abort", this.onAbort);
    this.ctx.inFlight.delete(this.stop);
    this.cancelWait();
    this.cleanup?.();
    finish();
  }

  /** A slot is ours: open the channel; the slot is given back when the channel closes. */
  private open(): void {
    let released = false;
    const release = () => {
      if (!released) (released = true), this.ctx.slots.release();
    };
    if (this.settled) return release();
    try {
      this.ctx.client.exec(this.cmd, (e, ch) => {
        if (!e) return this.opened(ch, release);
        release();
        this.stop(this.ctx.ended() ?? this.ctx.error(`cannot open a channel for ${this.summary}: ${e.message}`, "io"));
      });
    } catch (e) {
      release();
      this.stop(this.ctx.ended() ?? this.ctx.error(`cannot run ${this.summary}: ${(e as Error).message}`, "closed"));
    }
  }

  private opened(ch: ClientChannel, release: () => void): void {
    ch.on("error", () => {}); // e.g. stdin written after the command exited: its exit code tells
    ch.once("close", release);
    if (this.settled) return kill(ch); // timed out or aborted while the channel was opening
    this.channel = ch;
    let code: number | null = null;
    let signal: string | undefined;
    ch.on("exit", (c: number | null, s?: string) => ((code = c), (signal = s)));
    ch.on("data", (d: Buffer) => this.out.push(d));
    ch.stderr.on("data", (d: Buffer) => this.err.push(d));
    ch.once("close", () => {
      const ended = this.ctx.ended(); // the connection went down under the command
      if (ended) return this.stop(ended);
      this.settle(() => this.resolve(exitResult(code, signal, this.out.text(), this.err.text())));
    });
    this.cleanup = this.feed(ch, this.stop);
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

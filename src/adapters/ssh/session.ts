// One open SSH connection to a host, reused for every command and upload of a run. Each command is an
// exec channel (at most MAX_CHANNELS at once); a timeout or abort kills it (signal KILL: sshd sends it
// to the command's whole process group) and closes the channel; a dropped connection rejects every
// command in flight and every later one with a "closed" TransportError, without touching the others.
import { createReadStream, statSync } from "node:fs";
import type { Duplex } from "node:stream";
import type { Client } from "ssh2";
import type { ExecOptions, ExecResult, HostRef, HostSession } from "../../ports/hosts.js";
import { TransportError } from "../../ports/hosts.js";
import { runCommand, type CommandContext, type Feed } from "./command.js";
import { commandLine } from "./quote.js";
import { Slots } from "./slots.js";

/** Channels open at once per connection: below sshd's default MaxSessions (10), leaving room for an
 * operator's own `ssh` multiplexed over a ControlMaster. */
export const MAX_CHANNELS = 8;

/** Upload script: write a temp file next to the target, then rename (readers never see half a file). */
const PUT_SCRIPT = 't="$1.tmp.$$"; cat > "$t" && mv -f "$t" "$1" || { rm -f "$t"; exit 1; }';

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

/** A HostSession over one ssh2 connection. */
export class SshSession implements HostSession {
  private ended: TransportError | null = null;
  private lastError: Error | undefined;
  private readonly inFlight = new Set<(err: TransportError) => void>();
  private readonly closed: Promise<void>;
  private readonly context: CommandContext;

  constructor(
    readonly host: HostRef,
    private readonly parts: SessionParts,
  ) {
    this.context = {
      client: parts.client,
      slots: new Slots(MAX_CHANNELS),
      inFlight: this.inFlight,
      ended: () => this.ended,
      error: (text, kind) => this.error(text, kind),
    };
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
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
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

  private run(cmd: string, opts: ExecOptions, feed: Feed): Promise<ExecResult> {
    return runCommand(this.context, cmd, { ...opts, timeoutMs: opts.timeoutMs ?? this.parts.commandTimeoutMs }, feed);
  }

  private end(text: string): void {
    if (this.ended) return;
    this.ended = this.error(text, "closed");
    for (const stop of [...this.inFlight]) stop(this.ended);
    this.parts.onEnd(this);
  }
}

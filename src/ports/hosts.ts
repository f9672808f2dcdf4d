// How amphi reaches a VM host: a connector opens one session per host (reused for every command of a
// run), a session runs argv vectors and copies files. Adapters: ssh (node-ssh) and local (this machine).
import type { SshModel } from "../model/index.js";

/** A host as the transports see it: where it is, how to reach it, where amphi keeps its files there. */
export interface HostRef {
  group: string;
  host: string;
  address: string;
  transport: "ssh" | "local";
  ssh: SshModel;
  baseDir: string;
  /** Bytes a package may unpack to on this host (its group's maxUnpackedSize); unset: deploy's default. */
  maxUnpackedSize?: number;
}

/** Options of one command. */
export interface ExecOptions {
  /** Bytes written to the command's stdin, then closed. */
  stdin?: string | Buffer;
  /** Kill the command and fail after this long. Default: the connector's command timeout. */
  timeoutMs?: number;
  /** Aborting kills the command and rejects with a TransportError naming the host. */
  signal?: AbortSignal;
  /** Streamed output, for progress and task output tails. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** What a command printed and how it ended. A non-zero exit resolves; only transport failures reject. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An open connection to one host. `exec` takes an argv vector: the ssh adapter shell-quotes every
 * element (so no value is ever interpreted by the remote shell), the local adapter spawns it directly. */
export interface HostSession {
  readonly host: HostRef;
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Copies a local file to `remotePath` on the host (the directory must exist). */
  putFile(localPath: string, remotePath: string, opts?: { signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Opens sessions. `open` rejects with a TransportError naming the host and the cause
 * (unreachable, auth failed, host key mismatch); it never crashes the process. */
export interface HostConnector {
  open(host: HostRef, signal?: AbortSignal): Promise<HostSession>;
  /** Closes every session this connector opened. */
  closeAll(): Promise<void>;
}

/** A transport failure on one host: the subject first, then the cause. */
export class TransportError extends Error {
  constructor(
    readonly host: string,
    readonly causeText: string,
    readonly kind: "connect" | "auth" | "hostkey" | "timeout" | "closed" | "aborted" | "io",
  ) {
    super(`${host}: ${causeText}`);
    this.name = "TransportError";
  }
}

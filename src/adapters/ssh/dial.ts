// One SSH connection: TCP socket (TCP_NODELAY from the first byte) or a stream forwarded through a jump
// host → handshake with the host key checked against known_hosts (fail closed) → public-key auth with
// an identity file or the agent. Every failure becomes a TransportError naming the host and the cause.
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { homedir } from "node:os";
import type { Duplex } from "node:stream";
import { NodeSSH, type Config } from "node-ssh";
import type { Client, ServerHostKeyAlgorithm } from "ssh2";
import { TransportError } from "../../ports/hosts.js";
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  knownHostsLine,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  type KnownHostEntry,
} from "./known-hosts.js";

/** Where one connection goes: a target host, or the jump host in front of it. */
export interface Endpoint {
  /** The HostRef's host name: the subject of every error. */
  subject: string;
  /** Prefix for errors about a jump host (`via jump host amphi@bastion:22: `), empty for the target. */
  via: string;
  address: string;
  port: number;
  user: string;
  /** As configured (`~` allowed); null → the SSH agent. */
  identityFile: string | null;
  /** As configured (`~` allowed). */
  knownHostsFile: string;
}

/** Connector-wide settings a dial needs. */
export interface DialSettings {
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  noDelay: boolean;
  acceptNewHostKeys: boolean;
  env: NodeJS.ProcessEnv;
}

/** An authenticated connection and the stream it runs on. */
export interface Dialed {
  client: Client;
  sock: Duplex;
}

/** `~` and `~/x` → the home directory (HOME from the connector's env first). */
export function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  return (env.HOME || homedir()) + path.slice(1);
}

/** Seconds for messages: 0.3s, 10s. */
export function secs(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** Opens an SSH connection to `ep`, over `sock` when given (a forwarded channel), else over TCP. */
export async function dial(ep: Endpoint, s: DialSettings, signal: AbortSignal, sock?: Duplex): Promise<Dialed> {
  const fail = (text: string, kind: TransportError["kind"]) => new TransportError(ep.subject, ep.via + text, kind);
  const auth = credentials(ep, s.env, fail);
  const knownHosts = expandHome(ep.knownHostsFile, s.env);
  const name = knownHostsName(ep.address, ep.port);
  const preferred = hostKeyAlgorithms(knownTypes(knownHosts, name, fail));
  const stream = sock ?? (await openTcp(ep, s, signal, fail));
  let refusal: TransportError | undefined;
  const hostVerifier = (key: Buffer): boolean => {
    refusal = verifyHostKey(key, knownHosts, name, s.acceptNewHostKeys, fail);
    return refusal === undefined;
  };
  const config: Config = {
    sock: stream,
    username: ep.user,
    ...auth,
    hostVerifier,
    readyTimeout: s.connectTimeoutMs,
    keepaliveInterval: s.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    // (@types/ssh2 wants all three list operations; empty ones change nothing.)
    ...(preferred.length > 0 ? { algorithms: { serverHostKey: { prepend: preferred, append: [], remove: [] } } } : {}),
  };
  const ssh = new NodeSSH();
  const connecting = ssh.connect(config);
  // node-ssh makes the ssh2 Client synchronously; listen now, or a late socket error (keepalive,
  // ECONNRESET) would be an unhandled 'error' event and kill the process.
  const client = ssh.connection;
  if (!client) {
    stream.destroy();
    throw classify(await connecting.then(() => new Error("no connection"), (e: unknown) => e), ep, s, fail);
  }
  client.on("error", () => {});
  stream.on("error", () => {});
  const onAbort = () => client.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await connecting;
  } catch (err) {
    client.destroy();
    stream.destroy();
    if (signal.aborted) throw fail("connect aborted", "aborted");
    throw refusal ?? classify(err, ep, s, fail);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return { client, sock: stream };
}

type Fail = (text: string, kind: TransportError["kind"]) => TransportError;

/** The identity file's key, else the agent socket; never logs or returns key material in errors. */
function credentials(ep: Endpoint, env: NodeJS.ProcessEnv, fail: Fail): { privateKey: string } | { agent: string } {
  if (ep.identityFile !== null) {
    try {
      return { privateKey: readFileSync(expandHome(ep.identityFile, env), "utf8") };
    } catch (err) {
      throw fail(`identity file ${ep.identityFile}: ${fsReason(err)}`, "auth");
    }
  }
  if (env.SSH_AUTH_SOCK) return { agent: env.SSH_AUTH_SOCK };
  throw fail(`no credentials for ${ep.user}@${ep.address}: set ssh.identityFile or run an SSH agent (SSH_AUTH_SOCK is not set)`, "auth");
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return code ?? String(err);
}

function readEntries(file: string, fail: Fail): KnownHostEntry[] {
  try {
    return parseKnownHosts(readFileSync(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fail(`known hosts file ${file}: ${fsReason(err)}`, "hostkey");
  }
}

function knownTypes(file: string, name: string, fail: Fail): string[] {
  return knownKeyTypes(readEntries(file, fail), name);
}

/** Host key algorithms to ask for first: the types known_hosts lists for the host, so a server with
 * several host keys offers the one we can check (as OpenSSH does). */
function hostKeyAlgorithms(types: string[]): ServerHostKeyAlgorithm[] {
  const supported: ServerHostKeyAlgorithm[] = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-dss"];
  return types.flatMap((t) => (t === "ssh-rsa" ? (["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] as const) : supported.filter((a) => a === t)));
}

/** undefined when the key may be used; the refusal otherwise. Reads the file at handshake time, so a
 * key accepted by a concurrent connection of this process is seen as known, not appended twice. */
function verifyHostKey(key: Buffer, file: string, name: string, acceptNew: boolean, fail: Fail): TransportError | undefined {
  let entries: KnownHostEntry[];
  try {
    entries = readEntries(file, fail);
  } catch (err) {
    return err as TransportError;
  }
  const verdict = checkHostKey(entries, name, key);
  const offered = fingerprint(key);
  switch (verdict.status) {
    case "known":
      return undefined;
    case "revoked":
      return fail(`host key ${offered} for ${name} is revoked in ${file}:${verdict.line}`, "hostkey");
    case "mismatch": {
      const expected = verdict.expected.map((e) => `${file}:${e.line} has ${e.fingerprint}`).join("; ");
      return fail(`host key for ${name} does not match known hosts (${expected}; offered ${offered}); refusing to connect`, "hostkey");
    }
    case "unknown":
      if (!acceptNew) return fail(`host key for ${name} not in ${file}; add it or run with --accept-new-host-keys`, "hostkey");
      try {
        appendKnownHost(file, knownHostsLine(name, key));
        return undefined;
      } catch (err) {
        return fail(`cannot record the host key for ${name} in ${file}: ${fsReason(err)}`, "hostkey");
      }
  }
}

/** A TCP connection with Nagle off from the first byte (ssh2 never sets TCP_NODELAY: each small
 * command round trip would wait ~40 ms for delayed ACKs), bounded by the connect timeout. */
function openTcp(ep: Endpoint, s: DialSettings, signal: AbortSignal, fail: Fail): Promise<Socket> {
  const where = `${ep.address}:${ep.port}`;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(fail(`connect to ${where} aborted`, "aborted"));
    const sock = netConnect({ host: ep.address, port: ep.port, noDelay: s.noDelay, keepAlive: true });
    const done = (err?: TransportError) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      sock.removeListener("error", onError);
      sock.on("error", () => {}); // ssh2 adds its own; never an unhandled 'error'
      if (!err) return resolve(sock);
      sock.destroy();
      reject(err);
    };
    const onError = (e: NodeJS.ErrnoException) => done(fail(`connect to ${where} failed: ${e.code ?? e.message}`, "connect"));
    const onAbort = () => done(fail(`connect to ${where} aborted`, "aborted"));
    const timer = setTimeout(() => done(fail(`connect to ${where} timed out after ${secs(s.connectTimeoutMs)}`, "connect")), s.connectTimeoutMs);
    sock.once("connect", () => done());
    sock.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** An ssh2/node-ssh failure → the kind and a message with user, address and cause (no key material). */
function classify(err: unknown, ep: Endpoint, s: DialSettings, fail: Fail): TransportError {
  const e = err as Error & { level?: string; code?: string };
  const who = `${ep.user}@${ep.address}:${ep.port}`;
  const how = ep.identityFile !== null ? `identity file ${ep.identityFile}` : "SSH agent keys";
  if (e.level === "client-authentication") return fail(`authentication as ${who} failed (tried ${how})`, "auth");
  if (/privateKey|passphrase/i.test(e.message ?? "")) {
    return fail(`identity file ${ep.identityFile}: not a usable private key (${e.message.replace(/^Cannot parse privateKey: /, "")}); encrypted keys must be loaded into the SSH agent`, "auth");
  }
  if (e.level === "agent") return fail(`SSH agent at ${s.env.SSH_AUTH_SOCK}: ${e.message}`, "auth");
  if (e.level === "client-timeout") return fail(`SSH handshake with ${who} timed out after ${secs(s.connectTimeoutMs)}`, "connect");
  return fail(`SSH connection to ${who} failed: ${e.code ?? e.message ?? String(err)}`, "connect");
}

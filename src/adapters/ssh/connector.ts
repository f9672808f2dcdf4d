// SshConnector: one SSH connection per host, opened on first use and shared by every later open()
// (concurrent opens wait for the same dial), forgotten when it closes or drops so the next open()
// reconnects. closeAll() ends everything, after which nothing keeps the process alive.
import type { HostConnector, HostRef, HostSession } from "../../ports/hosts.js";
import { TransportError } from "../../ports/hosts.js";
import { dial, type DialSettings, type Endpoint } from "./dial.js";
import { JumpPool, parseJump } from "./jump.js";
import { SshSession } from "./session.js";

/** Options of an SshConnector; every one has a default. */
export interface SshConnectorOptions {
  /** known_hosts file used unless a group sets `ssh.knownHostsFile`. Default `~/.ssh/known_hosts`. */
  knownHostsFile?: string;
  /** Trust and record the key of a host missing from known_hosts (a changed key is still refused). Default false. */
  acceptNewHostKeys?: boolean;
  /** TCP connect, and separately SSH handshake + auth, each within this. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Default per-command timeout (ExecOptions.timeoutMs overrides). Default 300 000 ms. */
  commandTimeoutMs?: number;
  /** SSH keepalive interval; 3 unanswered → the connection counts as lost. Default 10 000 ms. */
  keepaliveIntervalMs?: number;
  /** TCP_NODELAY on the socket. Default true; false only to measure what it saves. */
  noDelay?: boolean;
  /** Environment for SSH_AUTH_SOCK and HOME (`~`). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface Entry {
  session?: SshSession;
  pending: Promise<SshSession>;
  /** Aborts the dial when every caller waiting for it gave up. */
  controller: AbortController;
  waiters: number;
}

/** HostConnector over SSH (ssh2 via node-ssh): agentless, like Ansible or Kamal. */
export class SshConnector implements HostConnector {
  private readonly settings: DialSettings;
  private readonly knownHostsFile: string;
  private readonly commandTimeoutMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly jumps: JumpPool;

  constructor(opts: SshConnectorOptions = {}) {
    this.settings = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 10_000,
      noDelay: opts.noDelay ?? true,
      acceptNewHostKeys: opts.acceptNewHostKeys ?? false,
      env: opts.env ?? process.env,
    };
    this.knownHostsFile = opts.knownHostsFile ?? "~/.ssh/known_hosts";
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 300_000;
    this.jumps = new JumpPool(this.settings);
  }

  /** The host's session: the open one, the one being opened, or a new connection. */
  open(host: HostRef, signal?: AbortSignal): Promise<HostSession> {
    if (host.transport !== "ssh") return Promise.reject(new TransportError(host.host, `transport is ${host.transport}, not ssh`, "connect"));
    const key = JSON.stringify([host.group, host.host, host.address, host.ssh]);
    let entry = this.entries.get(key);
    if (entry?.session?.alive) return Promise.resolve(entry.session);
    if (!entry || entry.session) entry = this.start(host, key);
    return this.wait(entry, host, signal);
  }

  /** Closes every session and jump connection; resolves when all are gone. */
  async closeAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) if (!e.session) e.controller.abort();
    await Promise.all(entries.map((e) => e.pending.then((s) => s.close(), () => {})));
    await this.jumps.closeAll();
  }

  private start(host: HostRef, key: string): Entry {
    const controller = new AbortController();
    const entry: Entry = { controller, waiters: 0, pending: this.connect(host, key, controller.signal) };
    entry.pending.then(
      (s) => (entry.session = s),
      () => this.entries.get(key) === entry && this.entries.delete(key),
    );
    this.entries.set(key, entry);
    return entry;
  }

  private wait(entry: Entry, host: HostRef, signal?: AbortSignal): Promise<HostSession> {
    entry.waiters++;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        entry.waiters--;
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (done) return;
        finish();
        if (entry.waiters === 0 && !entry.session) entry.controller.abort();
        reject(new TransportError(host.host, "connect aborted", "aborted"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      entry.pending.then(
        (s) => done || (finish(), resolve(s)),
        (e) => done || (finish(), reject(e)),
      );
    });
  }

  private async connect(host: HostRef, key: string, signal: AbortSignal): Promise<SshSession> {
    const target: Endpoint = {
      subject: host.host,
      via: "",
      address: host.address,
      port: host.ssh.port,
      user: host.ssh.user,
      identityFile: host.ssh.identityFile,
      knownHostsFile: host.ssh.knownHostsFile ?? this.knownHostsFile,
    };
    let release = () => {};
    let sock;
    if (host.ssh.proxyJump) {
      const jump = this.jumpEndpoint(target, host.ssh.proxyJump);
      const lease = await this.jumps.forward(jump, target, signal);
      ({ release } = lease);
      sock = lease.stream;
    }
    try {
      const d = await dial(target, this.settings, signal, sock);
      d.client.once("close", release); // after the target's goodbye went through the jump host
      return new SshSession(host, {
        ...d,
        where: `${target.user}@${target.address}:${target.port}`,
        commandTimeoutMs: this.commandTimeoutMs,
        onEnd: (s) => this.entries.get(key)?.session === s && this.entries.delete(key),
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The jump host endpoint: its own user/port when given, else the target's user and port 22. */
  private jumpEndpoint(target: Endpoint, spec: string): Endpoint {
    let j: ReturnType<typeof parseJump>;
    try {
      j = parseJump(spec);
    } catch (err) {
      throw new TransportError(target.subject, (err as Error).message, "connect");
    }
    const user = j.user ?? target.user;
    return { ...target, via: `via jump host ${user}@${j.address}:${j.port}: `, address: j.address, port: j.port, user };
  }
}

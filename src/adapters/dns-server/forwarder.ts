// Forwarding to upstream resolvers. UDP: a small pool of sockets; each query goes out under a fresh random
// ID (mapped back to the client's), and the upstream's answer bytes are relayed with only the ID rewritten.
// A reply counts only from the upstream asked, with the ID and the question asked (anything else is
// ignored: a spoofed reply would otherwise reach the client). Each attempt gets `timeoutMs / attempts`; a
// timed-out attempt is retried on the next upstream; when all fail the client gets SERVFAIL.
// TCP (queries that came over TCP): one connection per query to the upstream, same attempts and timeout.
import { randomFillSync } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { connect } from "node:net";
import { HEADER_SIZE } from "../../dns/index.js";
import type { Upstream } from "./upstreams.js";

/** Called once per forwarded query: the upstream's answer (client's ID already in place), or null (SERVFAIL). */
export type Reply = (resp: Buffer | null) => void;

/** Forwarder settings. */
export interface ForwarderOptions {
  /** Total time for a query, all attempts together (ms). */
  timeoutMs: number;
  /** UDP sockets per address family (default 4). */
  sockets?: number;
  /** Queries in flight at most; more get SERVFAIL at once (default 20000). */
  maxPending?: number;
}

interface Pending {
  id: number;
  clientId: number;
  query: Buffer;
  qEnd: number;
  upstream: number;
  attempt: number;
  deadline: number;
  reply: Reply;
}

interface Channel {
  socket: Socket;
  pending: Map<number, Pending>;
}

/** Sends queries to the upstreams and relays their answers. `start()` before use, `close()` at the end. */
export class Forwarder {
  /** Attempts per query (each on the next upstream): the number of upstreams, at least 2, at most 4. */
  readonly attempts: number;
  readonly attemptMs: number;
  private readonly channels: Record<4 | 6, Channel[]> = { 4: [], 6: [] };
  private readonly ids = new Uint16Array(2048);
  private idAt = 2048;
  private rr = 0;
  private preferred = 0;
  private inFlight = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    readonly upstreams: readonly Upstream[],
    private readonly opts: ForwarderOptions,
  ) {
    this.attempts = Math.min(Math.max(upstreams.length, 2), 4);
    this.attemptMs = Math.max(Math.floor(opts.timeoutMs / this.attempts), 1);
  }

  /** Binds the UDP sockets (ephemeral ports, one set per address family the upstreams use). */
  async start(): Promise<void> {
    const n = this.opts.sockets ?? 4;
    for (const family of [4, 6] as const) {
      if (!this.upstreams.some((u) => u.family === family)) continue;
      for (let i = 0; i < n; i++) this.channels[family].push(await openChannel(family, (ch, msg, rinfo) => this.onReply(ch, msg, rinfo)));
    }
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(50, Math.max(5, this.attemptMs >> 2)));
  }

  /** Forwards a UDP client's query (`query` is owned by the forwarder from now on: its ID is overwritten).
   * Returns false when it cannot (no upstream, too many in flight): the caller answers SERVFAIL. */
  forwardUdp(query: Buffer, qEnd: number, reply: Reply): boolean {
    if (this.upstreams.length === 0 || this.inFlight >= (this.opts.maxPending ?? 20000)) return false;
    const p: Pending = { id: 0, clientId: (query[0]! << 8) | query[1]!, query, qEnd, upstream: this.preferred, attempt: 0, deadline: 0, reply };
    if (!this.send(p, Date.now())) return false;
    this.inFlight++;
    return true;
  }

  /** Forwards a TCP client's query over TCP; resolves to the upstream's answer, or null after all attempts. */
  async forwardTcp(query: Buffer, qEnd: number): Promise<Buffer | null> {
    for (let attempt = 0; attempt < this.attempts && this.upstreams.length > 0; attempt++) {
      const index = (this.preferred + attempt) % this.upstreams.length;
      const resp = await tcpExchange(this.upstreams[index]!, query, this.attemptMs);
      if (resp !== null && resp[0] === query[0] && resp[1] === query[1] && sameQuestion(resp, query, qEnd)) return resp;
      if (resp === null && index === this.preferred) this.preferred = (index + 1) % this.upstreams.length;
    }
    return null;
  }

  /** Closes the sockets; queries in flight get no answer. */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ch of [...this.channels[4], ...this.channels[6]]) {
      ch.pending.clear();
      ch.socket.close();
    }
    this.channels[4] = [];
    this.channels[6] = [];
  }

  /** Sends attempt `p.attempt` to its upstream under a new ID. False when no socket/ID is free. */
  private send(p: Pending, now: number): boolean {
    const up = this.upstreams[p.upstream]!;
    const chans = this.channels[up.family];
    if (chans.length === 0) return false;
    const ch = chans[this.rr++ % chans.length]!;
    for (let tries = 0; tries < 8; tries++) {
      const id = this.nextId();
      if (ch.pending.has(id)) continue;
      p.id = id;
      p.deadline = now + this.attemptMs;
      p.query[0] = id >> 8;
      p.query[1] = id & 0xff;
      ch.pending.set(id, p);
      ch.socket.send(p.query, up.port, up.host);
      return true;
    }
    return false;
  }

  private onReply(ch: Channel, resp: Buffer, rinfo: RemoteInfo): void {
    if (resp.length < HEADER_SIZE) return;
    const p = ch.pending.get((resp[0]! << 8) | resp[1]!);
    if (p === undefined) return;
    const up = this.upstreams[p.upstream]!;
    if (rinfo.port !== up.port || rinfo.address !== up.host || !sameQuestion(resp, p.query, p.qEnd)) return;
    ch.pending.delete(p.id);
    this.inFlight--;
    resp[0] = p.clientId >> 8;
    resp[1] = p.clientId & 0xff;
    p.reply(resp);
  }

  /** Retries or fails attempts past their deadline. Deadlines grow in insertion order (one attempt length
   * for all), so each map is read only up to its first live entry. */
  private sweep(now: number): void {
    const expired: Pending[] = [];
    for (const ch of [...this.channels[4], ...this.channels[6]]) {
      for (const p of ch.pending.values()) {
        if (p.deadline > now) break;
        ch.pending.delete(p.id);
        expired.push(p);
      }
    }
    for (const p of expired) {
      if (p.upstream === this.preferred) this.preferred = (p.upstream + 1) % this.upstreams.length;
      p.attempt++;
      p.upstream = (p.upstream + 1) % this.upstreams.length;
      if (p.attempt < this.attempts && this.send(p, now)) continue;
      this.inFlight--;
      p.query[0] = p.clientId >> 8;
      p.query[1] = p.clientId & 0xff;
      p.reply(null);
    }
  }

  private nextId(): number {
    if (this.idAt >= this.ids.length) {
      randomFillSync(this.ids);
      this.idAt = 0;
    }
    return this.ids[this.idAt++]!;
  }
}

/** Whether a reply answers the question of `query` ([12, qEnd), compared ignoring ASCII case). A reply
 * without a question (some servers' FORMERR/NOTIMP) is accepted on its ID and source alone. */
export function sameQuestion(resp: Buffer, query: Buffer, qEnd: number): boolean {
  if (resp[4] === 0 && resp[5] === 0) return true;
  if (resp.length < qEnd) return false;
  for (let i = HEADER_SIZE; i < qEnd; i++) {
    const a = resp[i]!;
    const b = query[i]!;
    if (a !== b && (a | 0x20) !== (b | 0x20)) return false;
  }
  return true;
}

function openChannel(family: 4 | 6, onReply: (ch: Channel, msg: Buffer, rinfo: RemoteInfo) => void): Promise<Channel> {
  const socket = createSocket({ type: family === 4 ? "udp4" : "udp6", lookup: literalLookup });
  const ch: Channel = { socket, pending: new Map() };
  socket.on("message", (msg, rinfo) => onReply(ch, msg, rinfo));
  // Why a listener: an 'error' event without one would end the process (e.g. ICMP errors on some systems).
  socket.on("error", () => {});
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, () => {
      socket.off("error", reject);
      resolve(ch);
    });
  });
}

/** A dgram `lookup` for IP literals only: mesh-dns never sends to names, and skipping dns.lookup saves a
 * tick per packet. */
export function literalLookup(address: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(":") ? 6 : 4);
}

/** One query over a new TCP connection: length-prefixed out, one length-prefixed answer back, or null. */
export function tcpExchange(up: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: up.host, port: up.port, noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    const done = (resp: Buffer | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(resp);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on("error", () => done(null));
    socket.on("close", () => done(null));
    socket.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    const frame = Buffer.allocUnsafe(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    socket.write(frame);
  });
}

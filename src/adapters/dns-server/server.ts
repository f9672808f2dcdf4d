// mesh-dns's sockets: UDP and TCP on each listen address, one port. Every message goes through the same
// steps: parse by hand (dns2 for unusual messages), answer from the zone, else forward upstream. UDP goes
// through the batched native path (udp-batch.ts) when its addon loads, else through node:dgram.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { PARSE, QueryParser, RCODE, checkComplexQuery, errorAnswer, truncateForUdp, zoneAnswer, type Zone } from "../../dns/index.js";
import { Forwarder, literalLookup } from "./forwarder.js";
import { newStats, type DnsStats } from "./stats.js";
import { serveTcpConnection } from "./tcp.js";
import type { Upstream } from "./upstreams.js";
import { BatchUdp, PACKAGE_ADDON, loadUdpBatch, type UdpIoSetting } from "./udp-batch.js";

/** How a mesh-dns server listens and forwards. */
export interface MeshDnsOptions {
  /** IP addresses to listen on (UDP and TCP each); see listen-policy.ts for which are allowed. */
  listen: string[];
  /** Port for all of them; 0 picks a free one (the same for UDP and TCP of an address). */
  port: number;
  upstreams: Upstream[];
  /** Total time a forwarded query may take before the client gets SERVFAIL (ms). */
  upstreamTimeoutMs: number;
  /** A TCP connection with no traffic for this long is closed (ms). */
  tcpIdleMs?: number;
  /** TCP connections at once, beyond which new ones are refused. */
  maxTcpConnections?: number;
  /** UDP I/O: batched through the native addon, node:dgram, or `auto` (the default: batched when the addon
   * loads). `amphi dns` and the host program take it from AMPHI_DNS_IO (`udpIoSetting`). */
  udpIo?: UdpIoSetting;
  /** Where the addon may be (first that loads wins); default build/native/ of this package. */
  addonPaths?: readonly string[];
}

/** The UDP I/O setting from the value of AMPHI_DNS_IO (unset or empty: auto); an error names the variable. */
export function udpIoSetting(value: string | undefined): UdpIoSetting {
  if (value === undefined || value === "") return "auto";
  if (value === "auto" || value === "batch" || value === "dgram") return value;
  throw new Error(`AMPHI_DNS_IO=${value}: expected auto, batch or dgram`);
}

/** Where one listen address ended up. */
export interface BoundAddress {
  address: string;
  port: number;
}

/** What the server does with a message: a response to send now, FORWARD (the parser holds the question end
 * and the client's UDP limit), or DROP. Numbers, not objects: this runs for every query. */
export type Outcome = Buffer | typeof FORWARD | typeof DROP;
/** The message goes to an upstream. */
export const FORWARD = 1;
/** The message gets no answer. */
export const DROP = 0;

/** A running mesh-dns: `start()`, swap zones with `setZone`, read `stats`, `close()`. */
export class MeshDnsServer {
  readonly stats: DnsStats = newStats();
  private zone: Zone;
  private readonly forwarder: Forwarder;
  /** The UDP I/O in use (decided by `start`), and the one line that says why it is not batched (else null). */
  udpIo: "batch" | "dgram" = "dgram";
  udpIoNote: string | null = null;
  private readonly udp: { close(): void }[] = [];
  private addon: Parameters<typeof BatchUdp.bind>[0] | null = null;
  private readonly tcp: Server[] = [];
  private readonly connections = new Set<NetSocket>();
  private readonly parser = new QueryParser();

  constructor(
    zone: Zone,
    private readonly opts: MeshDnsOptions,
  ) {
    this.zone = zone;
    this.forwarder = new Forwarder(opts.upstreams, { timeoutMs: opts.upstreamTimeoutMs });
  }

  /** Binds every listen address and the forwarder's sockets; returns the addresses with their ports. */
  async start(): Promise<BoundAddress[]> {
    this.chooseUdpIo();
    await this.forwarder.start();
    const bound: BoundAddress[] = [];
    try {
      for (const address of this.opts.listen) bound.push(await this.bindPair(address));
    } catch (e) {
      await this.close();
      throw e;
    }
    return bound;
  }

  /** Replaces the zone; queries already answered keep the old one, the next ones see the new one. */
  setZone(zone: Zone): void {
    this.zone = zone;
  }

  /** The zone being served. */
  currentZone(): Zone {
    return this.zone;
  }

  /** How the batched UDP path has read so far (all listen addresses; zeros on node:dgram). */
  udpBatches(): { batches: number; datagrams: number; largest: number } {
    const sum = { batches: 0, datagrams: 0, largest: 0 };
    for (const u of this.udp) {
      if (!(u instanceof BatchUdp)) continue;
      sum.batches += u.counts.batches;
      sum.datagrams += u.counts.datagrams;
      sum.largest = Math.max(sum.largest, u.counts.largest);
    }
    return sum;
  }

  /** Stops listening, ends TCP connections, closes the forwarder. */
  async close(): Promise<void> {
    this.forwarder.close();
    for (const s of this.udp.splice(0)) s.close();
    const closed = this.tcp.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const c of this.connections) c.destroy();
    await Promise.all(closed);
  }

  /** Handles one message from a UDP or TCP client: the response to send now, FORWARD or DROP. */
  handle(msg: Buffer, tcp: boolean): Outcome {
    const s = this.stats;
    s.queries++;
    if (tcp) s.tcp++;
    const q = this.parser;
    let r = q.parse(msg);
    if (r === PARSE.complex) r = checkComplexQuery(msg, q);
    if (r === PARSE.ok) {
      const answer = zoneAnswer(this.zone, msg, q);
      if (answer !== null) {
        s.zone++;
        return answer;
      }
      s.forwarded++;
      return FORWARD;
    }
    if (r === PARSE.drop) {
      s.dropped++;
      return DROP;
    }
    if (r === PARSE.notimp) {
      s.notimp++;
      return errorAnswer(msg, q, RCODE.NOTIMP);
    }
    s.formerr++;
    return errorAnswer(msg, q, RCODE.FORMERR);
  }

  /** SERVFAIL for a query whose forwarding failed. The query is parsed again (its ID is the client's). */
  servfail(query: Buffer): Buffer {
    this.stats.servfail++;
    this.parser.parse(query);
    return errorAnswer(query, this.parser, RCODE.SERVFAIL);
  }

  private chooseUdpIo(): void {
    const setting = this.opts.udpIo ?? "auto";
    if (setting === "dgram") {
      this.udpIoNote = "udp: node:dgram (AMPHI_DNS_IO=dgram), not batched";
      return;
    }
    const load = loadUdpBatch(this.opts.addonPaths ?? [PACKAGE_ADDON]);
    if ("addon" in load) {
      this.addon = load.addon;
      this.udpIo = "batch";
      this.udpIoNote = null;
      return;
    }
    if (setting === "batch") throw new Error(`batched UDP I/O (AMPHI_DNS_IO=batch) is not available: ${load.error}`);
    this.udpIoNote = `udp: node:dgram, not batched: ${load.error}`;
  }

  private async bindPair(address: string): Promise<BoundAddress> {
    for (let tries = 0; ; tries++) {
      const { udp, port } = await this.bindUdp(address, this.opts.port);
      try {
        const tcp = await this.bindTcp(address, port);
        this.udp.push(udp);
        this.tcp.push(tcp);
        return { address, port };
      } catch (e) {
        udp.close();
        // Port 0: the kernel's free UDP port may be taken for TCP; pick another pair.
        if (this.opts.port !== 0 || tries >= 20 || (e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      }
    }
  }

  private async bindUdp(address: string, port: number): Promise<{ udp: { close(): void }; port: number }> {
    if (this.addon !== null) {
      const udp = BatchUdp.bind(this.addon, address, port, 1 << 20, (msg, i, socket) => this.onBatchUdp(msg, i, socket));
      return { udp, port: udp.port };
    }
    const udp = await this.bindDgram(address, port);
    return { udp, port: udp.address().port };
  }

  private bindDgram(address: string, port: number): Promise<Socket> {
    const socket = createSocket({ type: address.includes(":") ? "udp6" : "udp4", lookup: literalLookup, recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    socket.on("message", (msg, rinfo) => this.onUdp(socket, msg, rinfo));
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, address, () => {
        socket.off("error", reject);
        // Send errors (a client gone, ICMP) must never end the process.
        socket.on("error", () => {});
        resolve(socket);
      });
    });
  }

  private onTcp(msg: Buffer, send: (resp: Buffer | null) => void): void {
    const out = this.handle(msg, true);
    if (out === DROP) return send(null);
    if (out !== FORWARD) return send(out);
    void this.forwarder.forwardTcp(msg, this.parser.questionEnd).then((resp) => {
      if (resp !== null) this.stats.relayed++;
      send(resp ?? this.servfail(msg));
    });
  }

  private onUdp(socket: Socket, msg: Buffer, rinfo: RemoteInfo): void {
    const out = this.handle(msg, false);
    if (out === FORWARD) this.forwardUdp(msg, this.parser.questionEnd, this.parser.udpLimit(), (resp) => socket.send(resp, rinfo.port, rinfo.address));
    else if (out !== DROP) socket.send(out, rinfo.port, rinfo.address);
  }

  /** One datagram of a batch: the answer goes out with the batch; a forwarded query keeps a copy of its bytes
   * (the receive buffer is reused) and of its source, and its answer goes out alone when it comes. */
  private onBatchUdp(msg: Buffer, source: number, socket: BatchUdp): Buffer | null {
    const out = this.handle(msg, false);
    if (out === DROP) return null;
    if (out !== FORWARD) return out;
    const to = socket.source(source);
    this.forwardUdp(Buffer.from(msg), this.parser.questionEnd, this.parser.udpLimit(), (resp) => socket.sendTo(resp, to));
    return null;
  }

  private forwardUdp(msg: Buffer, qEnd: number, limit: number, send: (resp: Buffer) => void): void {
    const sent = this.forwarder.forwardUdp(msg, qEnd, (resp) => {
      if (resp === null) return send(this.servfail(msg));
      this.stats.relayed++;
      const fitted = truncateForUdp(resp, limit);
      if (fitted !== resp) this.stats.truncated++;
      send(fitted);
    });
    if (!sent) send(this.servfail(msg));
  }

  private bindTcp(address: string, port: number): Promise<Server> {
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    server.maxConnections = this.opts.maxTcpConnections ?? 512;
    server.on("connection", (socket) => {
      this.connections.add(socket);
      socket.once("close", () => this.connections.delete(socket));
      serveTcpConnection(socket, this.opts.tcpIdleMs ?? 10_000, (msg, send) => this.onTcp(msg, send));
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address, port, exclusive: true }, () => {
        server.off("error", reject);
        server.on("error", () => {});
        resolve(server);
      });
    });
  }
}

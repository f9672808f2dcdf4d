// mesh-dns's sockets: UDP and TCP on each listen address, one port. Every message goes through the same
// steps: parse by hand (dns2 for unusual messages), answer from the zone, else forward upstream.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { PARSE, QueryParser, RCODE, checkComplexQuery, errorAnswer, truncateForUdp, zoneAnswer, type Zone } from "../../dns/index.js";
import { Forwarder, literalLookup } from "./forwarder.js";
import { newStats, type DnsStats } from "./stats.js";
import { serveTcpConnection } from "./tcp.js";
import type { Upstream } from "./upstreams.js";

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
  private readonly udp: Socket[] = [];
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

  private async bindPair(address: string): Promise<BoundAddress> {
    for (let tries = 0; ; tries++) {
      const udp = await this.bindUdp(address, this.opts.port);
      const port = udp.address().port;
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

  private bindUdp(address: string, port: number): Promise<Socket> {
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
    if (out === FORWARD) this.forwardUdp(socket, msg, this.parser.questionEnd, this.parser.udpLimit(), rinfo);
    else if (out !== DROP) socket.send(out, rinfo.port, rinfo.address);
  }

  private forwardUdp(socket: Socket, msg: Buffer, qEnd: number, limit: number, rinfo: RemoteInfo): void {
    const sent = this.forwarder.forwardUdp(msg, qEnd, (resp) => {
      if (resp === null) return void socket.send(this.servfail(msg), rinfo.port, rinfo.address);
      this.stats.relayed++;
      const fitted = truncateForUdp(resp, limit);
      if (fitted !== resp) this.stats.truncated++;
      socket.send(fitted, rinfo.port, rinfo.address);
    });
    if (!sent) socket.send(this.servfail(msg), rinfo.port, rinfo.address);
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

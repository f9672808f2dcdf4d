// The Envoy test double's TCP listeners: bound on their socket address; for each connection the
// `original_dst` listener filter (original-dst.ts) recovers where it was going, the filter chain is chosen by
// `filter_chain_match.destination_port` (else a chain without a match, else `default_filter_chain`), and its
// one network filter runs: `tcp_proxy` to a cluster, or the HTTP connection manager (http.ts).
import net from "node:net";
import { originalDestination, type Destination } from "./original-dst.js";
import { target, type Cluster } from "./upstream.js";
import { HttpManager } from "./http.js";
import { log } from "./log.js";
import { T } from "./resources.js";
import { unwrap } from "./shape.js";

/** What listeners need from the rest of the double. */
export interface ListenerContext {
  cluster(name: string): Cluster | undefined;
  route(name: string): Record<string, any> | undefined;
  draining(): boolean;
}

interface Bound {
  key: string;
  body: Record<string, any>;
  server: net.Server;
}

/** The TCP listeners of one double. */
export class Listeners {
  private readonly bound = new Map<string, Bound>();
  private readonly http: HttpManager;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly ctx: ListenerContext) {
    this.http = new HttpManager(ctx);
  }

  /** Binds new listeners, rebinds moved ones, closes removed ones; a listener that stays keeps its socket and
   * takes the new config for new connections. Rejects (the LDS update is NACKed) when one cannot bind. */
  async apply(listeners: ReadonlyMap<string, Record<string, any>>): Promise<void> {
    for (const [name, b] of [...this.bound]) {
      const next = listeners.get(name);
      if (!next || addressKey(next) !== b.key) {
        b.server.close();
        this.bound.delete(name);
      }
    }
    const failures: string[] = [];
    for (const [name, body] of listeners) {
      if (body.address?.socket_address?.protocol === "UDP") continue;
      const existing = this.bound.get(name);
      if (existing) {
        existing.body = body;
        continue;
      }
      try {
        this.bound.set(name, await this.bind(name, body));
      } catch (err) {
        failures.push(`${name}: cannot bind ${addressKey(body)}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join("; "));
  }

  /** Stops accepting on every listener (open connections go on). */
  stopAccepting(): void {
    for (const b of this.bound.values()) b.server.close();
    this.bound.clear();
  }

  /** Connections open now. */
  open(): number {
    return this.sockets.size;
  }

  /** Closes idle HTTP connections and, after the drain, every connection. */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Listeners bound, by name → the address bound (a port 0 listener: the port it got). */
  addresses(): Record<string, string> {
    return Object.fromEntries(
      [...this.bound].map(([n, b]) => {
        const a = b.server.address();
        return [n, a && typeof a === "object" ? `${a.address}:${a.port}` : b.key];
      }),
    );
  }

  private bind(name: string, body: Record<string, any>): Promise<Bound> {
    const entry: Bound = { key: addressKey(body), body, server: net.createServer({ pauseOnConnect: true, allowHalfOpen: true }) };
    entry.server.on("connection", (socket) => this.onConnection(name, entry, socket));
    const sa = body.address.socket_address;
    return new Promise((resolve, reject) => {
      entry.server.once("error", reject);
      entry.server.listen({ host: sa.address, port: Number(sa.port_value ?? 0), exclusive: true }, () => {
        entry.server.off("error", reject);
        log("info", "upstream", `listener ${name} bound on ${entry.key}`);
        resolve(entry);
      });
    });
  }

  private async onConnection(name: string, entry: Bound, socket: net.Socket): Promise<void> {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    const body = entry.body;
    let dst: Destination = { address: (socket.localAddress ?? "").replace(/^::ffff:/, ""), port: socket.localPort ?? 0 };
    try {
      if ((body.listener_filters ?? []).some((f: any) => f.typed_config?.["@type"] === T.originalDst)) dst = await originalDestination(socket);
    } catch (err) {
      log("error", "filter", `${name}: ${(err as Error).message}`);
      return void socket.destroy();
    }
    const chain = chooseChain(body, dst.port);
    const filter = chain?.filters?.[0];
    if (!filter) {
      log("debug", "filter", `${name}: no filter chain for ${dst.address}:${dst.port}; closing`);
      return void socket.destroy();
    }
    const type = filter.typed_config?.["@type"];
    if (type === T.tcpProxy) return this.tcpProxy(socket, String(filter.typed_config.cluster), dst);
    if (type === T.hcm) return this.http.handle(socket, filter.typed_config, dst);
    socket.destroy();
  }

  private tcpProxy(socket: net.Socket, clusterName: string, dst: Destination): void {
    const cluster = this.ctx.cluster(clusterName);
    const host = cluster ? target(cluster, dst) : null;
    if (!cluster || !host || cluster.activeConnections >= cluster.maxConnections) {
      log("debug", "filter", `tcp_proxy: no upstream in ${clusterName} for ${dst.address}:${dst.port}`);
      if (cluster && host) cluster.overflows++;
      return void socket.destroy();
    }
    cluster.activeConnections++;
    // Half-close passes through (a FIN on one side ends the other's write side, as Envoy's tcp_proxy does); the
    // connection is gone once both sides closed, or at once when either fails.
    const upstream = net.connect({ host: host.address, port: host.port, allowHalfOpen: true });
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), cluster.connectTimeoutMs);
    upstream.on("connect", () => {
      clearTimeout(timer);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
    upstream.on("error", () => {
      clearTimeout(timer);
      socket.destroy();
    });
    upstream.on("close", () => {
      cluster.activeConnections--;
      if (!upstream.readableEnded || !upstream.writableFinished) socket.destroy();
    });
    socket.on("error", () => upstream.destroy());
    socket.on("close", () => upstream.destroy());
  }
}

/** The filter chain for a destination port: an exact `destination_port` match, else a chain without one, else the
 * default chain. */
export function chooseChain(listener: Record<string, any>, port: number): Record<string, any> | null {
  const chains: Record<string, any>[] = listener.filter_chains ?? [];
  return (
    chains.find((c) => c.filter_chain_match?.destination_port !== undefined && unwrap(c.filter_chain_match.destination_port, -1) === port) ??
    chains.find((c) => c.filter_chain_match?.destination_port === undefined) ??
    listener.default_filter_chain ??
    null
  );
}

function addressKey(body: Record<string, any>): string {
  const sa = body.address?.socket_address ?? {};
  return `${sa.address}:${sa.port_value ?? 0}`;
}

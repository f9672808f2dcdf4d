// The HTTP connection manager of the Envoy test double: HTTP/1.1, and h2c (HTTP/2 with prior knowledge, as gRPC
// sends it) told apart by the connection preface, like codec_type AUTO. Per request: the local rate limit filter
// when configured, then the router: virtual host by Host/`:authority`, route by prefix, cluster (weighted), timeout,
// retries, circuit breakers and outlier detection (upstream-call.ts). Local replies use Envoy's bodies and, for
// gRPC requests, a trailers-only answer with the gRPC status Envoy maps the HTTP status to.
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { Duplex } from "node:stream";
import type { Destination } from "./original-dst.js";
import type { ListenerContext } from "./listeners.js";
import { matchRoute, planRoute, virtualHost } from "./routing.js";
import { callUpstream, type DownstreamRequest, type LocalReply, type UpstreamAnswer } from "./upstream-call.js";
import { takeToken } from "./rate-limit.js";
import { T } from "./resources.js";
import { log } from "./log.js";
import { DEFAULT_IDLE_TIMEOUT_MS, durationMs } from "./shape.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te", "http2-settings"]);

/** Runs HTTP connection managers on accepted connections. */
export class HttpManager {
  constructor(private readonly ctx: ListenerContext) {}

  /** Serves one connection with the connection manager `hcm` (its typed config). */
  handle(socket: net.Socket, hcm: Record<string, any>, dst: Destination): void {
    const codec = hcm.codec_type ?? "AUTO";
    socket.once("data", (head: Buffer) => {
      socket.pause();
      const h2 = head.subarray(0, Math.min(head.length, PREFACE.length)).equals(PREFACE.subarray(0, Math.min(head.length, PREFACE.length)));
      if ((h2 && codec === "HTTP1") || (!h2 && codec === "HTTP2")) return void socket.destroy();
      if (h2) this.serveH2(socket, head, hcm, dst);
      else this.serveH1(socket, head, hcm, dst);
    });
    socket.resume();
  }

  private serveH1(socket: net.Socket, head: Buffer, hcm: Record<string, any>, dst: Destination): void {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers = plainHeaders(req.headers);
        const request: DownstreamRequest = { method: req.method ?? "GET", path: req.url ?? "/", authority: req.headers.host ?? "", headers, body: Buffer.concat(chunks), grpc: isGrpc(headers) };
        void this.route(hcm, dst, request).then((answer) => answerH1(res, answer, this.ctx.draining()));
      });
    });
    // Envoy keeps an idle downstream connection for the manager's common_http_protocol_options.idle_timeout, 1 h when
    // unset (0: no limit, as 0 is to Node). Node's own 5 s default closed the connections a peer sidecar keeps in its
    // pool, and a request reusing one as it closed got a 503 reset.
    server.keepAliveTimeout = durationMs(hcm.common_http_protocol_options?.idle_timeout) ?? DEFAULT_IDLE_TIMEOUT_MS;
    // HTTP/1's parser reads what is unshifted back; HTTP/2's reads the socket's handle directly and would miss it,
    // so it gets a stream that replays the first bytes (Node wraps a non-socket stream itself).
    socket.unshift(head);
    server.emit("connection", socket);
    socket.resume();
  }

  private serveH2(socket: net.Socket, head: Buffer, hcm: Record<string, any>, dst: Destination): void {
    const server = http2.createServer();
    server.on("stream", (stream, raw) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", () => {});
      stream.on("end", () => {
        const headers = plainHeaders(raw);
        const request: DownstreamRequest = { method: String(raw[":method"] ?? "GET"), path: String(raw[":path"] ?? "/"), authority: String(raw[":authority"] ?? raw["host"] ?? ""), headers, body: Buffer.concat(chunks), grpc: isGrpc(headers) };
        void this.route(hcm, dst, request).then((answer) => answerH2(stream, answer, request.grpc));
      });
    });
    server.on("sessionError", () => socket.destroy());
    server.emit("connection", replaying(socket, head));
  }

  /** The answer to one request: a local reply or an upstream response. */
  private async route(hcm: Record<string, any>, dst: Destination, req: DownstreamRequest): Promise<UpstreamAnswer | LocalReply> {
    try {
      for (const f of hcm.http_filters ?? []) {
        const cfg = f.typed_config ?? {};
        if (cfg["@type"] === T.localRateLimit && !takeToken(cfg)) {
          return { local: true, status: 429, body: "local_rate_limited", grpcStatus: cfg.rate_limited_as_resource_exhausted ? 8 : 14 };
        }
      }
      const config = hcm.route_config ?? (hcm.rds ? this.ctx.route(String(hcm.rds.route_config_name)) : undefined);
      const vhost = config ? virtualHost(config, req.authority) : null;
      const route = vhost ? matchRoute(vhost, req.path.split("?")[0]!) : null;
      const plan = route?.route ? planRoute(route.route, Math.random()) : null;
      if (!plan) return { local: true, status: 404, body: "", grpcStatus: 12 };
      const cluster = this.ctx.cluster(plan.cluster);
      if (!cluster) return { local: true, status: 503, body: "no healthy upstream", grpcStatus: 14 };
      return await callUpstream(cluster, plan, req, dst);
    } catch (err) {
      log("error", "router", `request ${req.method} ${req.authority}${req.path}: ${(err as Error).message}`);
      return { local: true, status: 500, body: "internal error of the Envoy test double", grpcStatus: 13 };
    }
  }
}

function plainHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && !k.startsWith(":") && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function isGrpc(headers: Record<string, string | string[]>): boolean {
  return String(headers["content-type"] ?? "").startsWith("application/grpc");
}

function answerH1(res: http.ServerResponse, answer: UpstreamAnswer | LocalReply, draining: boolean): void {
  if (draining) res.setHeader("connection", "close");
  if ("local" in answer) {
    res.writeHead(answer.status, { "content-type": "text/plain", "content-length": Buffer.byteLength(answer.body), server: "envoy" });
    return void res.end(answer.body);
  }
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !k.startsWith(":") && !HOP_BY_HOP.has(k)));
  res.writeHead(answer.status, headers);
  answer.body.on("error", () => res.destroy());
  answer.body.pipe(res);
}

function answerH2(stream: http2.ServerHttp2Stream, answer: UpstreamAnswer | LocalReply, grpc: boolean): void {
  if (stream.destroyed) return;
  if ("local" in answer) {
    // A gRPC caller reads a status, not an HTTP code: a trailers-only answer (Envoy maps 503 → UNAVAILABLE…).
    if (grpc) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(answer.grpcStatus), "grpc-message": answer.body }, { endStream: true });
      return;
    }
    stream.respond({ ":status": answer.status, "content-type": "text/plain" });
    return void stream.end(answer.body);
  }
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !k.startsWith(":") && !HOP_BY_HOP.has(k)));
  if (answer.endStream) return void stream.respond({ ":status": answer.status, ...headers }, { endStream: true });
  stream.respond({ ":status": answer.status, ...headers }, { waitForTrailers: true });
  stream.on("wantTrailers", () => {
    void answer.trailers.then((t) => {
      const trailers = Object.fromEntries(Object.entries(t ?? {}).filter(([k]) => !k.startsWith(":")));
      if (Object.keys(trailers).length > 0) stream.sendTrailers(trailers);
      else stream.close();
    });
  });
  answer.body.on("error", () => stream.destroy());
  answer.body.pipe(stream);
}

/** `socket` as a stream whose first bytes are `head` (already read from it). */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  let started = false;
  const d = new Duplex({
    read() {
      if (!started) {
        started = true;
        this.push(head);
        socket.on("data", (c: Buffer) => {
          if (!d.push(c)) socket.pause();
        });
        socket.on("end", () => d.push(null));
      }
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on("close", () => d.destroy());
  socket.on("error", (e) => d.destroy(e));
  return d;
}

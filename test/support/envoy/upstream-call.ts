// The router's upstream side: one request to a cluster, with the route's retries (retry_on, num_retries,
// per_try_timeout, Envoy's jittered 25 ms backoff) inside its timeout, circuit breakers (max_requests and
// max_pending_requests → 503 overflow) and outlier detection fed by every try. HTTP/1.1 upstream, or HTTP/2 when
// the cluster says http2_protocol_options (gRPC). The request body is buffered so a retry can send it again.
import http from "node:http";
import http2 from "node:http2";
import type { Readable } from "node:stream";
import type { Destination } from "./original-dst.js";
import { recordOutcome, target, type Cluster, type Host } from "./upstream.js";
import { retriable, type RoutePlan, type TryOutcome } from "./routing.js";

/** A request as the router sees it (hop-by-hop headers removed, body complete). */
export interface DownstreamRequest {
  method: string;
  path: string;
  authority: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  grpc: boolean;
}

/** An answer the proxy makes itself (Envoy's local reply); `grpcStatus` is what a gRPC caller gets. */
export interface LocalReply {
  local: true;
  status: number;
  body: string;
  grpcStatus: number;
}

/** An upstream response, streaming. */
export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  trailers: Promise<Record<string, string | string[] | undefined> | null>;
  /** HTTP/2: the headers ended the stream (a trailers-only gRPC answer). */
  endStream: boolean;
}

type TryResult = { ok: UpstreamAnswer } | { failure: "connect-failure" | "reset" | "timeout" };

const RESET = "upstream connect error or disconnect/reset before headers. reset reason: ";

/** Sends `req` to `cluster` as `plan` says; resolves with the response to forward or a local reply. */
export async function callUpstream(cluster: Cluster, plan: RoutePlan, req: DownstreamRequest, dst: Destination): Promise<UpstreamAnswer | LocalReply> {
  const deadline = plan.timeoutMs > 0 ? Date.now() + plan.timeoutMs : Infinity;
  const tries = 1 + (plan.retry?.retries ?? 0);
  for (let attempt = 1; ; attempt++) {
    if (cluster.activeRequests >= cluster.maxRequests || pending(cluster) >= cluster.maxPending) {
      cluster.overflows++;
      return reply(503, RESET + "overflow", 14);
    }
    const host = target(cluster, dst);
    if (!host) return reply(503, "no healthy upstream", 14);
    const left = deadline - Date.now();
    if (left <= 0) return reply(504, "upstream request timeout", 14);
    const perTry = plan.retry?.perTryMs ? Math.min(plan.retry.perTryMs, left) : left;
    cluster.activeRequests++;
    const result = await (cluster.http2 ? tryH2(cluster, host, req, perTry) : tryH1(cluster, host, req, perTry));
    const outcome: TryOutcome = "ok" in result ? { status: result.ok.status, grpcStatus: grpcStatusOf(result.ok.headers) } : result;
    recordOutcome(cluster, host, "failure" in outcome || outcome.status >= 500 || (req.grpc && [2, 4, 13, 14, 15].includes(outcome.grpcStatus ?? 0)));
    if ("ok" in result) holdUntilDone(cluster, result.ok.body);
    else cluster.activeRequests--;
    const again = attempt < tries && plan.retry !== null && retriable(plan.retry.on, outcome) && Date.now() < deadline;
    if (!again) {
      if ("ok" in result) return result.ok;
      if (result.failure === "timeout") return reply(504, "upstream request timeout", 14);
      return reply(503, RESET + (result.failure === "connect-failure" ? "connection failure" : "connection termination"), 14);
    }
    if ("ok" in result) result.ok.body.resume();
    await new Promise((r) => setTimeout(r, Math.random() * 25 * 2 ** Math.min(attempt - 1, 3)));
  }
}

function reply(status: number, body: string, grpcStatus: number): LocalReply {
  return { local: true, status, body, grpcStatus };
}

function grpcStatusOf(headers: Record<string, string | string[] | undefined>): number | null {
  const v = headers["grpc-status"];
  return v === undefined ? null : Number(v);
}

/** Requests waiting for an upstream connection (HTTP/1: beyond max_connections). */
function pending(cluster: Cluster): number {
  return Object.values(cluster.agent.requests).reduce((n, q) => n + (q?.length ?? 0), 0);
}

function holdUntilDone(cluster: Cluster, body: Readable): void {
  let done = false;
  const release = () => {
    if (!done) cluster.activeRequests--;
    done = true;
  };
  body.once("end", release);
  body.once("close", release);
  body.once("error", release);
}

function tryH1(cluster: Cluster, host: Host, req: DownstreamRequest, ms: number): Promise<TryResult> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const finish = (r: TryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const r = http.request({ host: host.address, port: host.port, method: req.method, path: req.path, headers: { ...req.headers, host: req.authority }, agent: cluster.agent });
    // No timeout (0 in the route): no timer (setTimeout would take Infinity as 1 ms).
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          finish({ failure: connected ? "timeout" : "connect-failure" });
          r.destroy();
        }, ms)
      : undefined;
    r.on("socket", (s) => {
      if (!s.connecting) connected = true;
      else {
        const t = setTimeout(() => r.destroy(new Error("connect timeout")), cluster.connectTimeoutMs);
        s.once("connect", () => {
          connected = true;
          clearTimeout(t);
        });
        s.once("close", () => clearTimeout(t));
      }
    });
    r.on("response", (res) => {
      const trailers = new Promise<Record<string, string | undefined> | null>((done) => {
        res.once("end", () => done(res.trailers));
        res.once("close", () => done(null));
      });
      finish({ ok: { status: res.statusCode ?? 502, headers: res.headers, body: res, trailers, endStream: false } });
    });
    r.on("error", () => finish({ failure: connected ? "reset" : "connect-failure" }));
    r.end(req.body);
  });
}

function session(cluster: Cluster, host: Host): { s: http2.ClientHttp2Session; connected: () => boolean } {
  const key = `${host.address}:${host.port}`;
  let s = cluster.sessions.get(key);
  if (!s || s.closed || s.destroyed) {
    const created = http2.connect(`http://${key}`);
    s = created;
    cluster.sessions.set(key, created);
    const t = setTimeout(() => created.destroy(new Error("connect timeout")), cluster.connectTimeoutMs);
    created.once("connect", () => clearTimeout(t));
    created.on("error", () => {});
    created.once("close", () => {
      clearTimeout(t);
      if (cluster.sessions.get(key) === created) cluster.sessions.delete(key);
    });
  }
  const current = s;
  return { s: current, connected: () => !current.connecting };
}

function tryH2(cluster: Cluster, host: Host, req: DownstreamRequest, ms: number): Promise<TryResult> {
  return new Promise((resolve) => {
    const { s, connected } = session(cluster, host);
    let settled = false;
    const finish = (r: TryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const headers: http2.OutgoingHttpHeaders = { ...req.headers, ":method": req.method, ":path": req.path, ":authority": req.authority };
    if (req.grpc) headers["te"] = "trailers";
    let stream: http2.ClientHttp2Stream;
    try {
      stream = s.request(headers, { endStream: req.body.length === 0 });
    } catch {
      return finish({ failure: connected() ? "reset" : "connect-failure" });
    }
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          finish({ failure: connected() ? "timeout" : "connect-failure" });
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }, ms)
      : undefined;
    stream.on("response", (h, flags) => {
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      const trailers = new Promise<Record<string, string | string[] | undefined> | null>((done) => {
        stream.once("trailers", (t) => done(t));
        stream.once("close", () => done(null));
      });
      finish({ ok: { status: Number(h[":status"] ?? 502), headers: h, body: stream, trailers, endStream } });
    });
    stream.on("error", () => finish({ failure: connected() ? "reset" : "connect-failure" }));
    stream.on("close", () => finish({ failure: connected() ? "reset" : "connect-failure" }));
    if (req.body.length > 0) stream.end(req.body);
  });
}

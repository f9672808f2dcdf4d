// A TEST DOUBLE of Consul's HTTP API — not Consul. No Consul package exists for this machine, so amphi's
// Consul adapter, watcher and health reporter are tested against this Node http server, and the same suites
// run against a real agent when CONSUL_HTTP_ADDR is set (consulTestTarget).
//
// It is one agent that is also the only server (node "amphi-double", datacenter "dc1"); agent registrations
// reach the catalog at once. Other nodes exist only through the catalog API (as consul-k8s's catalog sync
// writes them); catalog and health answers show each instance with its own node and that node's checks. Implemented, with Consul's documented semantics:
//   PUT  /v1/agent/service/register         ID (default Name), Name, Tags, Address, Port, Meta, Check/Checks
//                                           (TTL checks only: TTL, DeregisterCriticalServiceAfter, Notes,
//                                           CheckID default service:<id>[:n], Status default critical);
//                                           ?replace-existing-checks; re-registering keeps a check's status
//   PUT  /v1/agent/service/deregister/:id   404 for an unknown ID
//   PUT  /v1/agent/check/pass|warn|fail/:id ?note= → Output; restarts the TTL
//   PUT  /v1/agent/check/update/:id         {Status, Output}
//   PUT  /v1/catalog/register               Node, Address (required), ID, NodeMeta, Service {ID, Service, Tags,
//                                           Address, Port, Meta}, Check/Checks {CheckID, Name, Status (default
//                                           critical), Notes, Output, ServiceID}: nodes other than the agent's
//                                           (external services: no TTL, no anti-entropy); answers true
//   PUT  /v1/catalog/deregister             Node with ServiceID, CheckID, or neither (the whole node); true
//                                           also when nothing was there
//   GET  /v1/agent/services, /v1/agent/checks, /v1/agent/service/:id   (local agent state: no index, no blocking)
//   GET  /v1/catalog/services               name → tags (includes the server's own "consul" service)
//   GET  /v1/catalog/service/:name          ?tag= (repeatable)
//   GET  /v1/health/service/:name           ?passing (all checks, incl. the node's serfHealth), ?tag=
//   GET  /v1/health/checks/:service
//   GET  /v1/catalog/nodes                  ?node-meta=key:value (repeatable); the agent's own node included
//   GET  /v1/catalog/node-services/:node    {Node, Services: [...]} ({Node: null, Services: []} when unknown)
//   GET  /v1/health/node/:node              every check on the node ([] when unknown)
//   GET/PUT/DELETE /v1/kv/:key              ?recurse, ?keys&separator=, ?raw, ?cas=, ?flags=, ?acquire=, ?release=
//   PUT  /v1/session/create, /v1/session/destroy/:id, /v1/session/renew/:id; GET /v1/session/info/:id
//                                           TTL (invalidated after 2 × TTL), Behavior release|delete, LockDelay
// Indexes: one global raft-like index that grows on every write; each table (services, checks, kvs,
// tombstones, sessions), each service name and each KV key keeps the index of its last write, and reads
// answer X-Consul-Index with the index of what they cover (at least 1), so a blocking query on one endpoint
// is not woken by writes elsewhere — but it is woken by writes that leave its data as it was (another
// instance with the same tags), as in Consul. Blocking queries: `?index=N&wait=D` (D default 5m, max 10m,
// plus up to D/16 jitter). TTL checks go critical ("TTL expired") when not refreshed within their TTL; a
// service whose check has been critical for DeregisterCriticalServiceAfter (at least `deregisterMinMs`,
// Consul: 1m) is removed by a reaper every `reapIntervalMs` (Consul: 30 s). ACLs: started with `token`, the
// double enforces a default-deny policy with that one management token (header X-Consul-Token,
// Authorization: Bearer, or ?token=): an unknown token gets 403 "ACL not found"; no token (anonymous) gets
// 403 "Permission denied: …" on writes and KV reads, and empty answers flagged
// X-Consul-Results-Filtered-By-ACLs on list reads.
// Not implemented: other check types, node/service maintenance, prepared queries, transactions, ACL
// policies, namespaces, stale/consistent modes, hash-based blocking on agent endpoints, peering.
//
// Test controls: close(), state(), setIndex(n) (every index drops to n and blocked queries answer at once:
// an index reset), setQuirks({blockingAnswersAtOnce, fixedIndex}) (blocking queries answer at once without a
// change; every read answers a fixed X-Consul-Index, 0 included: see Quirks in store.ts), dropConnections() (every open connection is destroyed mid-request), pause()/resume()
// (stop accepting connections / listen again on the same port), requests (every request, token redacted).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { callerOf, HttpError, type Caller, type Ctx } from "./http.js";
import { kvRoutes } from "./kv.js";
import { serviceRoutes } from "./services.js";
import { Store, type Quirks, type DoubleCheck, type DoubleKv, type DoubleService, type DoubleSession } from "./store.js";

/** Options of startConsulDouble. */
export interface ConsulDoubleOptions {
  /** Address to listen on (default 127.0.0.1); e.g. a netns fleet's rootAddress so hosts can reach it. */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Enables ACLs: this is the one management token; anything else is refused (see the top of this file). */
  token?: string;
  datacenter?: string;
  nodeName?: string;
  /** Reaper interval for DeregisterCriticalServiceAfter (default 30 000, Consul's). */
  reapIntervalMs?: number;
  /** Floor of DeregisterCriticalServiceAfter (default 60 000, Consul's). */
  deregisterMinMs?: number;
  /** Floor of session TTLs (default 10 000, Consul's). */
  sessionTTLMinMs?: number;
}

/** One request the double answered. The token is never recorded, only how it resolved. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  caller: Caller;
  status: number;
}

/** A snapshot of the double's data (copies). */
export interface DoubleState {
  index: number;
  services: DoubleService[];
  checks: Omit<DoubleCheck, never>[];
  kv: (Omit<DoubleKv, "Value"> & { Value: string })[];
  sessions: DoubleSession[];
}

/** A running double. */
export interface ConsulDouble {
  /** `http://host:port`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Requests being answered now, and the most at once since the last `inFlight.max = 0` (for concurrency bounds). */
  readonly inFlight: { now: number; max: number };
  state(): DoubleState;
  setIndex(n: number): void;
  /** Turns misbehaviours on or off (see Quirks); returns the quirks now in force. */
  setQuirks(q: Partial<Quirks>): Quirks;
  dropConnections(): void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a Consul double (see the top of this file). */
export async function startConsulDouble(opts: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
  const host = opts.host ?? "127.0.0.1";
  const store = new Store(
    { name: opts.nodeName ?? "amphi-double", id: randomUUID(), address: host, datacenter: opts.datacenter ?? "dc1" },
    { reapIntervalMs: opts.reapIntervalMs ?? 30_000, deregisterMinMs: opts.deregisterMinMs ?? 60_000, sessionTTLMinMs: opts.sessionTTLMinMs ?? 10_000 },
  );
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const inFlight = { now: 0, max: 0 };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight.max = Math.max(inFlight.max, ++inFlight.now);
    res.once("close", () => void inFlight.now--);
    void handle(req, res, store, opts.token ?? null, requests);
  };
  let server = listenable(handler, sockets);
  const port = await listen(server, host, opts.port ?? 0);
  let paused = false;
  const drop = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    host,
    port,
    requests,
    inFlight,
    state: () => snapshot(store),
    setIndex: (n) => store.setIndex(n),
    setQuirks: (q) => Object.assign(store.quirks, q),
    dropConnections: drop,
    pause: async () => {
      if (paused) return;
      paused = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      drop();
      await closed;
    },
    resume: async () => {
      if (!paused) return;
      server = listenable(handler, sockets);
      await listen(server, host, port);
      paused = false;
    },
    close: async () => {
      store.close();
      const closed = paused ? Promise.resolve() : new Promise<void>((r) => server.close(() => r()));
      drop();
      await closed;
    },
  };
}

function listenable(handler: (req: IncomingMessage, res: ServerResponse) => void, sockets: Set<Socket>): Server {
  const server = createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return server;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, store: Store, token: string | null, requests: RecordedRequest[]): Promise<void> {
  const url = new URL(req.url ?? "/", "http://double");
  const chunks: Buffer[] = [];
  try {
    for await (const c of req) chunks.push(c as Buffer);
  } catch {
    return; // the client went away mid-body
  }
  const query = new URLSearchParams(url.searchParams);
  const caller = callerOf(req, query, token);
  query.delete("token");
  const ctx: Ctx = { req, res, method: req.method ?? "GET", path: url.pathname, query, body: Buffer.concat(chunks), caller, store };
  if (store.quirks.responseDelayMs > 0) await new Promise((r) => setTimeout(r, store.quirks.responseDelayMs));
  try {
    if (!(await serviceRoutes(ctx)) && !(await kvRoutes(ctx))) throw new HttpError(404, `Invalid URL path: not a known endpoint of the Consul test double: ${url.pathname}`);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    if (!res.headersSent && !res.destroyed) res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end((e as Error).message);
  }
  requests.push({ method: ctx.method, path: ctx.path, query: Object.fromEntries(query), caller, status: res.statusCode });
}

function snapshot(store: Store): DoubleState {
  return structuredClone({
    index: store.index,
    services: [...store.services.values()],
    checks: [...store.checks.values()],
    kv: [...store.kv.values()].map((e) => ({ ...e, Value: e.Value.toString("utf8") })),
    sessions: [...store.sessions.values()],
  });
}

/** Where a Consul suite runs: a real agent, or a fresh double. */
export interface ConsulTestTarget {
  /** `http://host:port` of the agent. */
  url: string;
  /** ACL token to use (CONSUL_HTTP_TOKEN for a real agent; the double's when started with one). */
  token: string | undefined;
  /** The double, or undefined against a real Consul (tests of double-only controls skip then). */
  double: ConsulDouble | undefined;
  /** Stops the double; leaves a real Consul alone. */
  close(): Promise<void>;
}

/** The real Consul at CONSUL_HTTP_ADDR (with CONSUL_HTTP_TOKEN), else a new double. */
export async function consulTestTarget(opts: ConsulDoubleOptions = {}): Promise<ConsulTestTarget> {
  const addr = process.env.CONSUL_HTTP_ADDR;
  if (addr) {
    const url = /^https?:\/\//.test(addr) ? addr.replace(/\/+$/, "") : `http://${addr}`;
    return { url, token: process.env.CONSUL_HTTP_TOKEN || undefined, double: undefined, close: async () => {} };
  }
  const double = await startConsulDouble(opts);
  return { url: double.url, token: opts.token, double, close: () => double.close() };
}

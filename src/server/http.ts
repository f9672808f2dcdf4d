// amphi serve's HTTP API on node:http:
//   GET  /healthz            200 ok (503 while stopping)
//   GET  /metrics            Prometheus text format (see metrics.ts)
//   GET  /v1/runs            runs, newest first (?env=, ?limit=, default 50), including queued/running ones
//   GET  /v1/runs/:id        one run with its tasks
//   GET  /v1/tasks/:id       one task
//   POST /v1/runs            {"env": "prod"} → 202 {id, env}; 409 while that environment runs; 404 unknown env
//   POST /v1/hooks/git       push webhooks → fetch + reconcile of the environments following the branch
//   HEAD on any GET route    the same status and headers as GET, no body
//   GET  /, /env/<env>       the fleet page (page.ts): HTML, filters in the query (?env=&status=&health=&app=)
//   GET  /login, POST /login the page's sign-in form off loopback; a good token sets the session cookie
// Off loopback, /v1/* (but the webhook) and the page need the API token (access.ts); an undecodable target is a 400.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { RunRecord } from "../model/index.js";
import type { StateStore } from "../ports/index.js";
import { markAbandoned, type RunnerCheck } from "../reconcile/abandoned.js";
import type { ReconcileLoop } from "../reconcile/loop.js";
import type { LoopMetrics } from "./metrics.js";
import { checkApiAccess, isLocalPeer, overTls, readTarget, sameSecret, sessionCookie } from "./access.js";
import type { TLSSocket } from "node:tls";
import type { FleetState } from "./fleet.js";
import { PAGE_CSP, readPageFilter, renderFilterError, renderFleetPage, simplePage } from "./page.js";
import { escapeHtml } from "../report/index.js";
import { readHook } from "./webhook.js";

/** What the API serves from. */
export interface ApiDeps {
  loop: ReconcileLoop;
  metrics: LoopMetrics;
  /** More Prometheus text appended to /metrics (the control plane's, under `serve --xds-listen`). */
  moreMetrics?: () => string;
  /** Every state store the served environments use. */
  stores(): StateStore[];
  /** How runners are judged, so a run whose runner died answers as `abandoned` (and is saved so). */
  runners: RunnerCheck;
  /** Webhook secret; null: hooks only from loopback. */
  secret: string | null;
  /** Bearer token for /v1/* from other machines; null: /v1/* (but the webhook) only from loopback. */
  apiToken: string | null;
  /** Branch of environments that name none (`main` for a remote, the checked-out branch of a local repo). */
  defaultBranch: string;
  log(line: string): void;
  stopping(): boolean;
  /** What the fleet page shows (absent: no page, / is a 404). */
  fleet?: FleetState;
  /** How often the page reloads itself (default 15 s). */
  refreshSeconds?: number;
}

/** How many runs the page's timeline shows. */
const PAGE_RUNS = 20;

const MAX_BODY = 1 << 20;

/** The HTTP server (not listening yet). */
export function apiServer(deps: ApiDeps): Server {
  return createServer((req, res) => {
    void route(deps, req, res).catch((e: Error) => {
      deps.log(`amphi: ${req.method} ${req.url}: ${e.message}`);
      if (!res.headersSent) send(res, 500, { error: "internal error" });
    });
  });
}

async function route(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = readTarget(req.url);
  const denied = checkApiAccess(target.path, req.socket.remoteAddress, req.headers, deps.apiToken, req.method ?? "GET", Date.now());
  if (denied) {
    for (const [k, v] of Object.entries(denied.headers)) res.setHeader(k, v);
    if (denied.page && deps.fleet) return html(res, denied.status, loginPage(denied.error, deps.apiToken !== null));
    return send(res, denied.status, { error: denied.error });
  }
  if (target.error !== null) return send(res, 400, { error: target.error });
  const p = target.path;
  const query = target.query;
  // HEAD is GET without the body (RFC 9110 9.3.2): the same status and headers; node:http drops what is written.
  const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET");
  let m: RegExpExecArray | null;
  if (p === "/healthz" && method === "GET") return void (deps.stopping() ? text(res, 503, "stopping\n") : text(res, 200, "ok\n"));
  if (p === "/metrics" && method === "GET") return void text(res, 200, deps.metrics.render() + (deps.moreMetrics?.() ?? ""), "text/plain; version=0.0.4; charset=utf-8");
  if (p === "/v1/runs" && method === "GET") return send(res, 200, await listRuns(deps, query.get("env"), Number(query.get("limit") ?? 50) || 50));
  if (p === "/v1/runs" && method === "POST") return startRun(deps, req, res);
  if ((m = /^\/v1\/runs\/([^/]+)$/.exec(p)) && method === "GET") {
    const run = await findRun(deps, decodeURIComponent(m[1]!));
    return run ? send(res, 200, run) : send(res, 404, { error: `no run ${m[1]}` });
  }
  if ((m = /^\/v1\/tasks\/([^/]+)$/.exec(p)) && method === "GET") {
    const id = decodeURIComponent(m[1]!);
    for (const store of deps.stores()) {
      const hit = await store.findTask(id);
      if (hit) return send(res, 200, (await orAbandoned(deps, store, hit.run)).tasks.find((t) => t.id === id) ?? hit.task);
    }
    return send(res, 404, { error: `no task ${id}` });
  }
  if (p === "/v1/hooks/git" && method === "POST") return hook(deps, req, res);
  const envPage = /^\/env\/([^/]+)$/.exec(p);
  if (deps.fleet && method === "GET" && (p === "/" || envPage)) return page(deps, deps.fleet, envPage ? decodeURIComponent(envPage[1]!) : null, query, res);
  if (deps.fleet && p === "/login" && method === "GET") return html(res, 200, loginPage(null, deps.apiToken !== null));
  if (deps.fleet && p === "/login" && method === "POST") return login(deps, req, res);
  const known = ["/healthz", "/metrics", "/v1/runs", "/v1/hooks/git", ...(deps.fleet ? ["/", "/login"] : [])].includes(p) || /^\/v1\/(runs|tasks)\/[^/]+$/.test(p) || (!!deps.fleet && /^\/env\/[^/]+$/.test(p));
  send(res, known ? 405 : 404, { error: known ? `${req.method} not allowed on ${p}` : `no such endpoint ${p}` });
}

/** The fleet page: every environment (`scope` null) or one; 404 for one not served, 400 for a bad filter. */
async function page(deps: ApiDeps, fleet: FleetState, scope: string | null, query: URLSearchParams, res: ServerResponse): Promise<void> {
  const views = fleet.list();
  const names = views.map((v) => v.name);
  if (scope !== null && !names.includes(scope)) return html(res, 404, simplePage("amphi fleet — no such environment", `<p>Environment <code>${escapeHtml(scope)}</code> is not served here (served: ${escapeHtml(names.join(", "))}). <a href="/">All environments</a></p>`));
  const { filter, error } = readPageFilter(query, names, scope);
  if (error !== null) return html(res, 400, renderFilterError(error));
  const runs = await listRuns(deps, filter.env || null, PAGE_RUNS);
  html(res, 200, renderFleetPage({ views, runs, scope, filter, refreshSeconds: deps.refreshSeconds ?? 15, now: new Date() }));
}

/** POST /login (form field `token`): a good token sets the session cookie and goes to the page; a bad one is a 401
 * with the form again. Loopback needs no sign-in, but may sign in all the same. */
async function login(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (deps.apiToken === null) return html(res, 403, loginPage("no API token is configured (--api-token-env): the fleet page answers only loopback peers", false));
  const body = await readBody(req);
  if (body === null) return html(res, 413, loginPage("the form is too large", true));
  const given = new URLSearchParams(body.toString("utf8")).get("token") ?? "";
  if (given === "" || !sameSecret(given, deps.apiToken)) {
    deps.log(`amphi: sign-in to the fleet page from ${req.socket.remoteAddress} refused: wrong token`);
    return html(res, 401, loginPage("that token does not match the one of --api-token-env", true));
  }
  res.setHeader("Set-Cookie", sessionCookie(deps.apiToken, Date.now(), overTls((req.socket as TLSSocket).encrypted === true, req.headers)));
  res.setHeader("Location", "/");
  html(res, 303, simplePage("amphi fleet — signed in", '<p><a href="/">Go to the fleet page</a></p>'));
}

/** The sign-in page, with why it is shown (never the token, never what was sent). */
function loginPage(why: string | null, form: boolean): string {
  const note = why ? `<p class="incomplete">${escapeHtml(why)}</p>` : "";
  const fields = form
    ? '<form method="post" action="/login"><label>API token <input type="password" name="token" autocomplete="current-password" required></label> <button type="submit">sign in</button></form><p class="muted">The token is the one amphi serve reads from --api-token-env. Signing in sets a session cookie for 12 hours; the token never goes into a URL.</p>'
    : "";
  return simplePage("amphi fleet — sign in", note + fields);
}

async function startRun(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  if (body === null) return send(res, 413, { error: "body too large" });
  let env: unknown;
  try {
    env = (JSON.parse(body.toString("utf8") || "{}") as { env?: unknown }).env;
  } catch {
    return send(res, 400, { error: 'body must be JSON: {"env": "<environment>"}' });
  }
  if (typeof env !== "string") return send(res, 400, { error: 'body must name the environment: {"env": "<environment>"}' });
  const r = deps.loop.request(env, "api", true);
  if (!r) return send(res, deps.stopping() ? 503 : 404, { error: deps.stopping() ? "amphi is stopping" : `environment ${env} is not served here (served: ${deps.loop.names.join(", ")})` });
  if (!r.accepted) return send(res, 409, { error: `environment ${env} is being reconciled (run ${r.runId} since ${r.since})`, runId: r.runId, since: r.since });
  res.setHeader("Location", `/v1/runs/${r.runId}`);
  send(res, 202, { id: r.runId, env });
}

async function hook(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // Why: without a secret anyone who reaches the port could make amphi fetch and apply; only this machine may.
  if (deps.secret === null && !isLocalPeer(req.socket.remoteAddress, req.headers)) {
    return send(res, 403, { error: "webhooks without a secret are accepted only from loopback; start amphi serve with --webhook-secret-env" });
  }
  const body = await readBody(req);
  if (body === null) return send(res, 413, { error: "body too large" });
  const v = readHook(req.headers, body, deps.secret);
  if (v.kind === "rejected") {
    deps.log(`amphi: webhook from ${req.socket.remoteAddress} rejected: ${v.reason}`);
    return send(res, v.status, { error: v.reason });
  }
  if (v.kind === "ignored") return send(res, 200, { ignored: v.reason });
  const envs = deps.loop.envsOnBranch(v.push.branch, deps.defaultBranch);
  const runs = envs.flatMap((env) => {
    const r = deps.loop.request(env, "webhook");
    return r?.accepted ? [{ env, id: r.runId }] : [];
  });
  deps.log(`amphi: ${v.push.provider} push to ${v.push.branch}${v.push.sha ? ` (${v.push.sha.slice(0, 12)})` : ""}: ${runs.length ? runs.map((r) => `${r.env} ${r.id}`).join(", ") : "no environment follows this branch"}`);
  send(res, 202, { branch: v.push.branch, sha: v.push.sha, runs });
}

/** Runs of every store, newest first, with runs queued or running that have no record yet. */
async function listRuns(deps: ApiDeps, env: string | null, limit: number): Promise<RunRecord[]> {
  const all = new Map<string, RunRecord>();
  for (const store of deps.stores()) for (const r of await store.listRuns({ env: env ?? undefined, limit })) all.set(r.id, await orAbandoned(deps, store, r));
  for (const stub of stubs(deps)) if (!all.has(stub.id) && (!env || stub.env === env)) all.set(stub.id, stub);
  return [...all.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, limit);
}

async function findRun(deps: ApiDeps, id: string): Promise<RunRecord | null> {
  for (const store of deps.stores()) {
    const run = await store.getRun(id);
    if (run) return orAbandoned(deps, store, run);
  }
  return stubs(deps).find((s) => s.id === id) ?? null;
}

/** The run, or, when its runner died, the run marked abandoned and saved. */
async function orAbandoned(deps: ApiDeps, store: StateStore, run: RunRecord): Promise<RunRecord> {
  return (await markAbandoned(store, [run], deps.runners))[0]!;
}

/** Queued/running cycles as run records (until the cycle saves the real one). */
function stubs(deps: ApiDeps): RunRecord[] {
  return deps.loop.pending().map((p) => ({
    apiVersion: "amphi.dev/v1", kind: "Run", id: p.runId, env: p.env, revision: null, source: "", state: p.state, createdAt: p.since,
    startedAt: p.state === "running" ? p.since : null, endedAt: null, summary: { create: 0, update: 0, delete: 0, unchanged: 0, unknown: 0 },
    message: `${p.trigger}: ${p.state === "running" ? "fetching and planning" : "waiting for the running cycle"}`, pid: process.pid, tasks: [],
  }));
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  text(res, status, JSON.stringify(body, null, 2) + "\n", "application/json");
}

/** An HTML answer, with the page's CSP and headers that keep it out of caches, frames and Referer headers. */
function html(res: ServerResponse, status: number, body: string): void {
  res.setHeader("Content-Security-Policy", PAGE_CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cache-Control", "no-store");
  text(res, status, body, "text/html; charset=utf-8");
}

function text(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) }).end(body);
}

// Who may call which endpoint of amphi serve, and how the request target is read. Pure: a request's peer,
// headers and target in, a verdict out.
//   loopback peer (not proxied)   everything, as without a token
//   /healthz, /metrics            open to any peer: load balancer probes and Prometheus scrapes carry no
//                                 token, and they show no secrets (environment names, counts, revisions)
//   /v1/hooks/git                 its own check (HMAC signature, or loopback only without a secret): webhook.ts
//   every other /v1/... path      off loopback: `Authorization: Bearer <token>` (--api-token-env), compared
//                                 in constant time; refused outright when no token is configured
//   the fleet page (/, /env/<e>)  off loopback: the same bearer token, or the session cookie /login sets
//   /login                        open: its form posts the token in the body, and a good one gets the cookie
// The session cookie (HttpOnly, SameSite=Strict, Path=/, Secure behind TLS) is `<issued>.<mac>`: the time it was
// issued and an HMAC keyed by the token over it — not the token. The server refuses it 12 hours after it was
// issued (Max-Age alone only asks the browser to drop it: a copied cookie would work forever) and when the MAC
// does not match (compared in constant time). It opens the page and GET/HEAD /v1/runs and /v1/tasks (the page
// links there), never a POST. Why a cookie set from a POSTed form and not `?token=` in a link: URLs end up in
// access logs, browser history and Referer headers; a body does not.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isLoopback } from "./webhook.js";

/** A refusal: status, the header to send with it and a message (never the token, never what was sent).
 * `page`: the refused path is the fleet page (answered with HTML: the login form). */
export interface Denied {
  status: 401 | 403;
  headers: Record<string, string>;
  error: string;
  page?: boolean;
}

/** Name of the page's session cookie. */
export const SESSION_COOKIE = "amphi_session";

/** Whether a path is the fleet page: `/` or `/env/<env>`. */
export function isPagePath(rawPath: string): boolean {
  return rawPath === "/" || /^\/env\/[^/]+$/.test(rawPath);
}

/** How long a session cookie opens the page after it was issued, in seconds (12 hours). */
export const SESSION_SECONDS = 12 * 60 * 60;

/** How far a session's issue time may lie in the future (clocks of replicas behind one proxy differ a little). */
const SESSION_SKEW_SECONDS = 60;

/** The session cookie's value for `token`, issued at `issuedMs`: `<issued, unix seconds>.<HMAC-SHA256 keyed by
 * the token over a label and the issue time, base64url>`, so the cookie is not the token and cannot be re-dated. */
export function sessionValue(token: string, issuedMs: number): string {
  const issued = Math.floor(issuedMs / 1000);
  return `${issued}.${sessionMac(token, issued)}`;
}

function sessionMac(token: string, issued: number): string {
  return createHmac("sha256", token).update(`amphi fleet page session v2\n${issued}`).digest("base64url");
}

/** What a session cookie is worth for `token` at `nowMs`: `ok` when its MAC matches (constant time) and it was
 * issued at most SESSION_SECONDS ago (and not later than now, give or take a minute); `expired` when the MAC
 * matches but it is older; `invalid` for anything else (an old-format value, a forged or re-dated one). */
export function readSession(value: string, token: string, nowMs: number): "ok" | "expired" | "invalid" {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return "invalid";
  const issued = Number(m[1]);
  if (!timingSafeEqual(Buffer.from(m[2]!), Buffer.from(sessionMac(token, issued)))) return "invalid";
  const age = Math.floor(nowMs / 1000) - issued;
  if (age < -SESSION_SKEW_SECONDS) return "invalid";
  return age <= SESSION_SECONDS ? "ok" : "expired";
}

/** The `Set-Cookie` header that opens the page for 12 hours from `nowMs`. `secure`: the request came over TLS
 * (amphi serve itself speaks plain HTTP; a TLS proxy in front says so in X-Forwarded-Proto / Forwarded), so the
 * browser must never send the cookie over plain HTTP. */
export function sessionCookie(token: string, nowMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${sessionValue(token, nowMs)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure ? "; Secure" : ""}`;
}

/** Whether a request reached us over TLS: a TLS socket, or a proxy in front that says the client used https.
 * Why trusting the proxy's header is safe here: it only adds `Secure`, which can only make the cookie stricter. */
export function overTls(encrypted: boolean, headers: IncomingHttpHeaders): boolean {
  const xfp = String(headers["x-forwarded-proto"] ?? "").split(",")[0]!.trim().toLowerCase();
  const fwd = /(?:^|[;,]\s*)proto="?https"?(?:[;,\s]|$)/i.test(String(headers.forwarded ?? ""));
  return encrypted || xfp === "https" || fwd;
}

/** The value of cookie `name` in a Cookie header, or null. */
function cookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether a request comes from this machine itself: a loopback peer that is not a proxy forwarding
 * someone else's request. Why: a reverse proxy on the same machine connects from loopback; what it
 * forwards must not inherit loopback's trust. */
export function isLocalPeer(address: string | undefined, headers: IncomingHttpHeaders): boolean {
  return isLoopback(address) && headers["x-forwarded-for"] === undefined && headers.forwarded === undefined;
}

/** Null when the request may reach `rawPath`, else why not. `token` is the API token (null: none set); `nowMs`
 * judges the session cookie's age. */
export function checkApiAccess(rawPath: string, address: string | undefined, headers: IncomingHttpHeaders, token: string | null, method: string, nowMs: number): Denied | null {
  const page = isPagePath(rawPath);
  if (!(page || needsToken(rawPath)) || isLocalPeer(address, headers)) return null;
  if (token === null) {
    const what = page ? "the fleet page answers" : "the API answers";
    return { status: 403, headers: {}, page, error: `${what} only loopback peers: start amphi serve with --api-token-env NAME (NAME: an environment variable holding a bearer token) to accept requests that carry that token` };
  }
  const given = bearer(headers.authorization);
  if (given !== null && sameSecret(given, token)) return null;
  // The session cookie opens the page and the runs it links to, for reading only.
  const reading = method === "GET" || method === "HEAD";
  const cookieValue = cookie(headers.cookie, SESSION_COOKIE);
  const session = cookieValue === null ? null : readSession(cookieValue, token, nowMs);
  if (session === "ok" && reading && (page || /^\/v1\/(runs|tasks)(\/|$)/.test(rawPath))) return null;
  if (page) {
    const why = session === "expired" ? "your session has expired: sign in again" : session === "invalid" ? "your session cookie is not valid (signed with another token, or altered): sign in again" : "sign in with it";
    return { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="amphi"' }, page, error: `the fleet page needs the API token from other machines: ${why} (the form posts it to /login, which sets a session cookie for 12 hours) or send "Authorization: Bearer <token>"` };
  }
  const challenge = given === null ? 'Bearer realm="amphi"' : 'Bearer realm="amphi", error="invalid_token"';
  const why = given === null ? "no bearer token was sent" : "the bearer token does not match";
  return { status: 401, headers: { "WWW-Authenticate": challenge }, error: `the API needs "Authorization: Bearer <token>" (the token of --api-token-env) from other machines: ${why}` };
}

/** Whether a path is gated by the API token: /v1 and everything under it except the webhook. */
function needsToken(rawPath: string): boolean {
  return (rawPath === "/v1" || rawPath.startsWith("/v1/")) && rawPath !== "/v1/hooks/git";
}

/** The credentials of `Authorization: Bearer <credentials>` (scheme case-insensitive), or null. */
function bearer(header: string | undefined): string | null {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

/** Constant-time comparison of two secrets of any length (through digests of equal length). */
export function sameSecret(given: string, expected: string): boolean {
  const d = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(d(given), d(expected));
}

/** A request target split into its path (still percent-encoded, as routes match it) and its query. */
export interface Target {
  path: string;
  query: URLSearchParams;
  /** Why the target cannot be read (then path and query must not be used for anything but access). */
  error: string | null;
}

/** Reads `req.url`. Why strict: URLSearchParams keeps a malformed `%` sequence as text and
 * decodeURIComponent throws on it; both would turn a client's mistake into a wrong answer or a 500. */
export function readTarget(url: string | undefined): Target {
  // An absolute-form target (`GET http://host:port/v1/runs`, RFC 9112 3.2.2) routes by its path.
  const raw = (url ?? "/").replace(/^https?:\/\/[^/?#]*/i, "") || "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const search = q < 0 ? "" : raw.slice(q + 1);
  const bad = search.split("&").find((part) => !decodes(part.replace(/\+/g, " ")));
  const error = !path.startsWith("/")
    ? `the request path must start with "/": ${clip(path)}`
    : !decodes(path)
      ? `the request path is not valid percent-encoding (UTF-8): ${clip(path)}`
      : bad !== undefined
        ? `the request query is not valid percent-encoding (UTF-8): ${clip(bad)}`
        : null;
  return { path, query: new URLSearchParams(error ? "" : search), error };
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** What a bound address exposes, as the warning `amphi serve` prints at start; null on loopback.
 * `tokenEnv`/`secretEnv`: the variable names of --api-token-env / --webhook-secret-env (never the values). */
export function exposureWarning(bound: { address: string; family: string; port: number }, tokenEnv: string | null, secretEnv: string | null): string | null {
  if (isLoopback(bound.address)) return null;
  const where = bound.address === "0.0.0.0" ? "every IPv4 interface" : bound.address === "::" ? "every interface" : "an address other machines can reach";
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  const api = tokenEnv ? `/v1/runs and /v1/tasks need "Authorization: Bearer" with the token of ${tokenEnv}` : "/v1/runs and /v1/tasks are refused off loopback (no --api-token-env)";
  const hook = secretEnv ? `POST /v1/hooks/git needs the signature of ${secretEnv}` : "POST /v1/hooks/git is refused off loopback (no --webhook-secret-env)";
  const page = tokenEnv ? `the fleet page (/) needs the same token (sign in at /login)` : "the fleet page (/) is refused off loopback";
  return `amphi: warning: listening on ${host}:${bound.port} (${where}) is beyond loopback: GET /healthz and GET /metrics are open to anyone who reaches the port; ${api}; ${hook}; ${page}`;
}

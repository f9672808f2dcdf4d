// Who may call which endpoint of amphi serve, and how the request target is read. Pure: a request's peer,
// headers and target in, a verdict out.
//   loopback peer (not proxied)   everything, as without a token
//   /healthz, /metrics            open to any peer: load balancer probes and Prometheus scrapes carry no
//                                 token, and they show no secrets (environment names, counts, revisions)
//   /v1/hooks/git                 its own check (HMAC signature, or loopback only without a secret): webhook.ts
//   every other /v1/... path      off loopback: `Authorization: Bearer <token>` (--api-token-env), compared
//                                 in constant time; refused outright when no token is configured
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { isLoopback } from "./webhook.js";

/** A refusal: status, the header to send with it and a message (never the token, never what was sent). */
export interface Denied {
  status: 401 | 403;
  headers: Record<string, string>;
  error: string;
}

/** Whether a request comes from this machine itself: a loopback peer that is not a proxy forwarding
 * someone else's request. Why: a reverse proxy on the same machine connects from loopback; what it
 * forwards must not inherit loopback's trust. */
export function isLocalPeer(address: string | undefined, headers: IncomingHttpHeaders): boolean {
  return isLoopback(address) && headers["x-forwarded-for"] === undefined && headers.forwarded === undefined;
}

/** Null when the request may reach `rawPath`, else why not. `token` is the API token (null: none set). */
export function checkApiAccess(rawPath: string, address: string | undefined, headers: IncomingHttpHeaders, token: string | null): Denied | null {
  if (!needsToken(rawPath) || isLocalPeer(address, headers)) return null;
  if (token === null) {
    return { status: 403, headers: {}, error: "the API answers only loopback peers: start amphi serve with --api-token-env NAME (NAME: an environment variable holding a bearer token) to accept requests that carry that token" };
  }
  const given = bearer(headers.authorization);
  if (given !== null && sameSecret(given, token)) return null;
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
  return `amphi: warning: listening on ${host}:${bound.port} (${where}) is beyond loopback: GET /healthz and GET /metrics are open to anyone who reaches the port; ${api}; ${hook}`;
}

// HTTP plumbing of the Consul double: request context, ACL resolution, JSON answers, Consul's error texts,
// and blocking queries (`?index=N&wait=D`: answer when the endpoint's index passes N or D elapses, D
// defaulting to 5 minutes, capped at 10, plus up to D/16 of jitter, as Consul documents).
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseDuration } from "../../../src/model/duration.js";
import type { Store } from "./store.js";

/** Who is asking: the configured token, no token (anonymous), or a token the double does not know. */
export type Caller = "management" | "anonymous" | "unknown";

/** One request as routes see it. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  body: Buffer;
  caller: Caller;
  store: Store;
}

/** A handled error: status and Consul's plain-text body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

/** Resolves the caller from `X-Consul-Token`, `Authorization: Bearer` or `?token=` (in Consul's order). */
export function callerOf(req: IncomingMessage, query: URLSearchParams, token: string | null): Caller {
  if (token === null) return "management";
  const header = req.headers["x-consul-token"];
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1];
  const given = (Array.isArray(header) ? header[0] : header) || bearer || query.get("token") || "";
  if (!given) return "anonymous";
  return given === token ? "management" : "unknown";
}

/** Throws 403 unless the caller may write: Consul's "ACL not found" for an unknown token, "Permission
 * denied" for the anonymous token under a default-deny policy. */
export function requireWrite(ctx: Ctx, permission: string, resource: string): void {
  if (ctx.caller === "unknown") throw new HttpError(403, "ACL not found");
  if (ctx.caller === "anonymous") throw new HttpError(403, `Permission denied: anonymous token lacks permission '${permission}' on "${resource}"`);
}

/** For reads: unknown tokens fail; whether the anonymous token's answer must be filtered to nothing. */
export function readFiltered(ctx: Ctx): boolean {
  if (ctx.caller === "unknown") throw new HttpError(403, "ACL not found");
  return ctx.caller === "anonymous";
}

/** Throws 405 unless the request uses one of `methods`. */
export function allow(ctx: Ctx, ...methods: string[]): void {
  if (!methods.includes(ctx.method)) throw new HttpError(405, `method ${ctx.method} not allowed`);
}

/** The body as JSON (an empty body is `{}`); 400 with Consul's wording when it is not JSON. */
export function jsonBody(ctx: Ctx): Record<string, unknown> {
  if (ctx.body.length === 0) return {};
  try {
    const v: unknown = JSON.parse(ctx.body.toString("utf8"));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, "Request decode failed: invalid character in request body");
}

/** A field of a decoded body, matched as Consul's decoder does: case-insensitively, `_` ignored
 * (`DeregisterCriticalServiceAfter` = `deregister_critical_service_after`). */
export function field(obj: Record<string, unknown>, name: string): unknown {
  const want = name.toLowerCase().replace(/_/g, "");
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase().replace(/_/g, "") === want) return v;
  return undefined;
}

/** Sends JSON with the read headers (`X-Consul-Index` when `index` is given, never below 1). */
export function sendJson(ctx: Ctx, value: unknown, index?: number, extra: Record<string, string> = {}): void {
  const headers: Record<string, string> = { "Content-Type": "application/json", ...extra };
  if (index !== undefined) {
    headers["X-Consul-Index"] = String(ctx.store.quirks.fixedIndex ?? Math.max(1, index));
    headers["X-Consul-KnownLeader"] = "true";
    headers["X-Consul-LastContact"] = "0";
  }
  ctx.res.writeHead(200, headers).end(JSON.stringify(value));
}

/** Sends a read that the anonymous token may not see: an empty answer, flagged as Consul flags it. */
export function sendFiltered(ctx: Ctx, empty: unknown, index: number): void {
  sendJson(ctx, empty, index, { "X-Consul-Results-Filtered-By-ACLs": "true" });
}

/** Waits as a blocking query: returns at once without `?index` (or index 0), when the endpoint's
 * index is already past it or with the blockingAnswersAtOnce quirk; else when `indexOf()` passes it, `wait` (+ jitter) elapses, the index is
 * reset (setIndex), or the client goes away. */
export async function block(ctx: Ctx, indexOf: () => number): Promise<void> {
  const min = Number(ctx.query.get("index") ?? "0");
  if (!Number.isFinite(min) || min <= 0 || indexOf() > min || ctx.store.quirks.blockingAnswersAtOnce) return;
  const waitText = ctx.query.get("wait");
  let wait = DEFAULT_WAIT_MS;
  if (waitText !== null) {
    const ms = parseDuration(waitText);
    if (ms === null) throw new HttpError(400, "Invalid wait time");
    wait = Math.min(ms, MAX_WAIT_MS);
  }
  wait += Math.random() * (wait / 16);
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      ctx.res.off("close", finish);
      resolve();
    };
    const timer = setTimeout(finish, wait);
    const off = ctx.store.onChange((force) => {
      if (force || indexOf() > min) finish();
    });
    ctx.res.on("close", finish);
  });
}

// Helpers for the Consul suites: raw HTTP calls against a target (the double or CONSUL_HTTP_ADDR), unique
// names per run, a registration fixture, and polling.
import { randomBytes } from "node:crypto";
import type { Registration } from "../../src/model/index.js";

/** A name unique to this run (Consul suites may share a real agent). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** One raw HTTP exchange. */
export interface RawAnswer {
  status: number;
  index: number;
  headers: Headers;
  text: string;
  json: unknown;
  ms: number;
}

/** Sends a request to `base + path` (token as X-Consul-Token when given). */
export async function call(base: string, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string } = {}): Promise<RawAnswer> {
  const t0 = performance.now();
  const headers: Record<string, string> = {};
  if (opts.token) headers["X-Consul-Token"] = opts.token;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // plain-text answer (errors)
  }
  return { status: res.status, index: Number(res.headers.get("x-consul-index") ?? 0), headers: res.headers, text, json, ms: performance.now() - t0 };
}

/** Polls `fn` every 25 ms until it returns a truthy value or `timeoutMs` passes (then throws `what`). The default
 * deadline is a safety net, far above what a quiet machine needs (5 s was reached beside CPU hogs). */
export async function eventually<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A registration as render makes it (`<app>-<host>-<port>`, tags, meta, TTL check), with overrides. */
export function registrationFixture(over: Partial<Registration> & { service: string; host?: string; port?: number; env?: string }): Registration {
  const app = over.app ?? over.service;
  const host = over.host ?? "vm-1";
  const port = over.port ?? 9100;
  const env = over.env ?? "staging";
  const id = over.id ?? `${app}-${host}-${port}`;
  return {
    id,
    service: over.service,
    app,
    env,
    host,
    address: over.address ?? "10.0.0.1",
    port,
    tags: over.tags ?? ["amphi", `env:${env}`, `app:${app}`, "version:1.0.0"],
    meta: over.meta ?? { "amphi-app": app, "amphi-env": env, "amphi-host": host, "amphi-version": "1.0.0", "amphi-spec-hash": "0".repeat(64) },
    check: over.check ?? { checkId: `service:${id}`, ttl: "15s", deregisterCriticalServiceAfter: "1m", notes: "TTL kept passing by amphi's health reporter" },
  };
}

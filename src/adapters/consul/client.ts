// A small Consul HTTP client on node:http. Why not the `consul` npm package (2.0.1): its types lack
// `index`/`wait` and require `timeout` on TTL checks, it cannot send `replace-existing-checks`, and its
// watch crashes the process without an `error` listener; the few endpoints amphi needs are plain JSON
// over HTTP. Why not fetch: in Node 20 a fetch costs ~1.9 ms of CPU per small request against ~0.75 ms for
// http.request (client and server in one process, bench: 2,000 GETs), and loading undici on the first one
// ~45 ms; a control plane and a registry make requests by the thousand. Connections are kept alive by Node's
// global agents (idle ones do not hold the process open). The ACL token travels only in the X-Consul-Token
// header: never in a URL, a log line or an error message.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ConsulModel } from "../../model/index.js";

/** Where and how to reach one Consul agent. */
export interface ConsulClientOptions {
  /** `http://host:8500` (a bare `host:port` gets `http://`). */
  address: string;
  /** ACL token, or null/undefined for none. */
  token?: string | null;
  /** Datacenter for catalog, health and KV reads (`?dc=`); agent endpoints are always the agent's own. */
  datacenter?: string | null;
  /** Per-request timeout for non-blocking requests (default 10 s). */
  timeoutMs?: number;
}

/** A failed Consul request: the agent's address first, then what failed and why. `status` is null when
 * no HTTP answer came (unreachable, timeout). Never contains the token. */
export class ConsulError extends Error {
  constructor(
    readonly address: string,
    readonly status: number | null,
    readonly causeText: string,
  ) {
    super(`consul ${address}: ${causeText}`);
    this.name = "ConsulError";
  }
}

/** A successful read: the decoded body and the X-Consul-Index (0 when the answer carries none). */
export interface ConsulRead<T> {
  data: T;
  index: number;
  /** X-Consul-Results-Filtered-By-ACLs: the token may not see everything that is there. */
  filtered: boolean;
}

/** Per-request options. */
export interface RequestOptions {
  query?: Record<string, string | string[] | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** One Consul agent over HTTP. */
export class ConsulClient {
  readonly address: string;
  readonly datacenter: string | null;
  private readonly token: string | null;
  private readonly timeoutMs: number;

  constructor(opts: ConsulClientOptions) {
    const a = opts.address.replace(/\/+$/, "");
    this.address = /^https?:\/\//.test(a) ? a : `http://${a}`;
    this.token = opts.token || null;
    this.datacenter = opts.datacenter ?? null;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** GETs JSON; throws ConsulError for transport failures and non-2xx answers. */
  async get<T>(path: string, opts: RequestOptions = {}): Promise<ConsulRead<T>> {
    const res = await this.send("GET", path, opts);
    const data = res.text ? (JSON.parse(res.text) as T) : (null as T);
    return { data, index: Number(res.headers["x-consul-index"] ?? 0) || 0, filtered: res.headers["x-consul-results-filtered-by-acls"] === "true" };
  }

  /** PUTs (JSON body when given); returns the answer's text. Throws ConsulError like get. */
  async put(path: string, opts: RequestOptions = {}): Promise<string> {
    return (await this.send("PUT", path, opts)).text;
  }

  /** Sends one request; any non-2xx answer is a ConsulError carrying its status and Consul's message. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
    const url = this.url(path, opts.query);
    const what = `${method} ${path}`;
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (this.token) headers["X-Consul-Token"] = this.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (body !== undefined || method !== "GET") headers["Content-Length"] = String(body === undefined ? 0 : Buffer.byteLength(body));
    let res: { status: number; statusText: string; headers: IncomingHttpHeaders; text: string };
    try {
      res = await exchange(url, method, headers, body, signal);
    } catch (e) {
      throw new ConsulError(this.address, null, `${what} failed: ${this.scrub(transportCause(e, opts.signal, timeout))}`);
    }
    if (res.status < 200 || res.status > 299) {
      throw new ConsulError(this.address, res.status, `${what} answered ${res.status}: ${this.scrub(res.text.trim().split("\n")[0] || res.statusText)}`);
    }
    return res;
  }

  private url(path: string, query: RequestOptions["query"] = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
    }
    const q = params.toString();
    return `${this.address}${path}${q ? `?${q}` : ""}`;
  }

  /** Why: a proxy or a misconfigured agent could echo what it got; the token never leaves this class. */
  private scrub(text: string): string {
    return this.token ? text.split(this.token).join("[token]") : text;
  }
}

/** One request and its whole answer (the body as UTF-8 text); rejects on a transport failure or an abort. */
function exchange(url: string, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<{ status: number; statusText: string; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, signal }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", headers: res.headers, text }));
      res.on("error", reject);
      res.on("close", () => res.complete || reject(new Error("the connection closed before the whole answer came")));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function transportCause(e: unknown, caller: AbortSignal | undefined, timeout: AbortSignal): string {
  if (caller?.aborted) return "aborted";
  if (timeout.aborted) return "timed out";
  // node:http's error says what happened (connect ECONNREFUSED 127.0.0.1:8500)
  const err = e as Error;
  return err.message || String(e);
}

/** The client of an environment's Consul: its address and datacenter, and the token from the environment
 * variable `consul.tokenEnv` names. Throws (naming the variable, never a value) when that variable is unset. */
export function consulClientFor(consul: ConsulModel, processEnv: Record<string, string | undefined> = process.env, timeoutMs?: number): ConsulClient {
  let token: string | null = null;
  if (consul.tokenEnv) {
    token = processEnv[consul.tokenEnv] ?? "";
    if (!token) throw new ConsulError(consul.address, null, `no ACL token: environment variable ${consul.tokenEnv} (consul.tokenEnv) is not set`);
  }
  return new ConsulClient({ address: consul.address, token, datacenter: consul.datacenter, timeoutMs });
}

// Consul watches as blocking queries, following Consul's "blocking queries" implementation notes:
// - each request passes the last X-Consul-Index and a wait; Consul answers when the data's index passes it;
// - an answer can carry a new index and the same data, so changes are detected by a hash of the payload;
// - an index that goes backwards (snapshot restore, another cluster) resets it to 0: a full read;
// - an index that is not > 0 is a Consul bug that makes every blocking query return at once; it is treated
//   as 1, so the next query blocks wherever it can;
// - rate limit: a read whose answer moved neither the index nor the content (an agent that answers blocking
//   queries at once with an unchanged index, an index of 0 or going backwards, a wait that elapsed) is
//   followed by the next no sooner than `minIntervalMs` (default 1 s) after it began, so such an agent costs
//   at most a request a second instead of a spinning core; after a change, or an index that moved (a write
//   in Consul), the next read goes at once, so a burst of changes is followed and no state is skipped;
// - errors back off exponentially with jitter (100 ms doubling to 30 s); a dropped connection or an agent
//   that is down never throws out of the watch: every error goes to `onError`, and the watch goes on.
import { createHash } from "node:crypto";
import type { ConsulClient } from "./client.js";
import { worstStatus, type CheckStatus, type HealthEntryJson } from "./registry.js";

/** Options shared by every watch. */
export interface WatchOptions<T> {
  /** Called with the first answer, then on every change of its content (never twice for equal content). */
  onChange(value: T, index: number): void;
  /** Called for every failed request (and for an onChange that threw), with the delay before the retry. */
  onError(error: Error, retryInMs: number): void;
  /** Seconds a blocking query may wait (default 120; at most 270, so wait + Consul's wait/16 jitter stays
   * below the 300 s headers timeout of Node's fetch). */
  waitSeconds?: number;
  /** First retry delay after an error (default 100 ms); doubles up to maxBackoffMs (default 30 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Minimum time from the start of a read that moved neither index nor content to the start of the next (default 1000 ms). */
  minIntervalMs?: number;
  /** Stops the watch when aborted (like stop()). */
  signal?: AbortSignal;
}

/** A running watch. */
export interface Watch {
  /** Ends the watch at once (the pending request is aborted); onChange/onError are not called after it. */
  stop(): void;
  /** Resolves after the first answer was delivered to onChange (or when the watch is stopped before). */
  ready: Promise<void>;
  /** Resolves when the watch loop has ended after stop(). */
  done: Promise<void>;
}

/** One instance of a service, as the health endpoint shows it, without Consul's bookkeeping. */
export interface ServiceInstance {
  id: string;
  service: string;
  node: string;
  /** The service address, or the node's when the service has none (as Consul's DNS answers). */
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  /** Worst of the instance's checks, node checks included (what `?passing` filters on). */
  status: CheckStatus;
}

/** Watches `/v1/catalog/services`: service name → tags. */
export function watchCatalog(client: ConsulClient, opts: WatchOptions<Record<string, string[]>>): Watch {
  return watchPath(client, "/v1/catalog/services", {}, (data) => {
    const map = (data ?? {}) as Record<string, string[] | null>;
    return Object.fromEntries(Object.keys(map).sort().map((k) => [k, [...(map[k] ?? [])].sort()]));
  }, opts);
}

/** Watches `/v1/health/service/<name>`: its instances sorted by ID (optionally `passing` only, one `tag`). */
export function watchService(client: ConsulClient, service: string, opts: WatchOptions<ServiceInstance[]> & { passingOnly?: boolean; tag?: string }): Watch {
  const query: Record<string, string> = {};
  if (opts.passingOnly) query.passing = "1";
  if (opts.tag) query.tag = opts.tag;
  return watchPath(client, `/v1/health/service/${encodeURIComponent(service)}`, query, (data) => instancesOf((data ?? []) as HealthEntryJson[]), opts);
}

/** The instances of a health answer, sorted by ID. */
export function instancesOf(entries: HealthEntryJson[]): ServiceInstance[] {
  return entries
    .map((e) => ({
      id: e.Service.ID,
      service: e.Service.Service,
      node: e.Node.Node,
      address: e.Service.Address || e.Node.Address,
      port: e.Service.Port,
      tags: e.Service.Tags ?? [],
      meta: e.Service.Meta ?? {},
      status: worstStatus(e.Checks.map((c) => c.Status)),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A blocking-query watch of any read endpoint; `parse` turns the JSON body into what onChange gets. */
export function watchPath<T>(client: ConsulClient, path: string, query: Record<string, string>, parse: (data: unknown) => T, opts: WatchOptions<T>): Watch {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  if (opts.signal) {
    if (opts.signal.aborted) stop();
    else opts.signal.addEventListener("abort", stop, { once: true });
  }
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const done = loop(client, path, query, parse, opts, abort.signal, () => markReady()).finally(() => {
    markReady();
    opts.signal?.removeEventListener("abort", stop);
  });
  return { stop, ready, done };
}

async function loop<T>(client: ConsulClient, path: string, query: Record<string, string>, parse: (data: unknown) => T, opts: WatchOptions<T>, signal: AbortSignal, ready: () => void): Promise<void> {
  const wait = Math.min(270, Math.max(1, opts.waitSeconds ?? 120));
  const minBackoff = opts.minBackoffMs ?? 100;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const dc = client.datacenter ? { dc: client.datacenter } : {};
  const minInterval = opts.minIntervalMs ?? 1000;
  let index = 0;
  let failures = 0;
  let lastHash: string | null = null;
  // Start of the last read, and whether the next one must keep minInterval from it.
  let lastStart = -Infinity;
  let pace = false;
  while (!signal.aborted) {
    const since = performance.now() - lastStart;
    if (pace && since < minInterval) await sleep(minInterval - since, signal);
    if (signal.aborted) break;
    lastStart = performance.now();
    try {
      const q = index > 0 ? { ...dc, ...query, index: String(index), wait: `${wait}s` } : { ...dc, ...query };
      // A blocking query may take wait + wait/16 (Consul's jitter): allow that plus a margin.
      const r = await client.get<unknown>(path, { query: q, signal, timeoutMs: index > 0 ? Math.ceil(wait * 1000 * (17 / 16)) + 15_000 : undefined });
      failures = 0;
      const value = parse(r.data);
      const hash = createHash("sha256").update(JSON.stringify(value)).digest("hex");
      const changed = hash !== lastHash;
      // Neither the index nor the content moved (a wait that elapsed, an agent answering at once, an index
      // of 0 or one going backwards): the next read keeps its distance. An index that moved is a write in
      // Consul and is followed at once, so no state in between is skipped (a check failing, then passing).
      pace = !changed && !(r.index > index);
      if (changed && !signal.aborted) {
        lastHash = hash;
        try {
          opts.onChange(value, r.index);
        } catch (e) {
          opts.onError(asError(e), 0);
        }
      }
      ready();
      index = nextIndex(index, r.index);
    } catch (e) {
      if (signal.aborted) break;
      failures++;
      const cap = Math.min(maxBackoff, minBackoff * 2 ** Math.min(failures - 1, 30));
      const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
      opts.onError(asError(e), delay);
      // The backoff is the pause: the read after it goes at once.
      pace = false;
      await sleep(delay, signal);
    }
  }
}

/** The index of the next request after an answer carrying `got` (Consul's implementation notes): backwards
 * resets to 0 (a full read); not above 0 (a Consul bug) is treated as 1, so the next query blocks. */
export function nextIndex(previous: number, got: number): number {
  if (!Number.isFinite(got) || got < previous) return 0;
  return got <= 0 ? 1 : got;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

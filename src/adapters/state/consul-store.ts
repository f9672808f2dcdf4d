// The Consul backend of the state store, for several `amphi serve` replicas: runs as JSON values under
// `<prefix>/runs/<id>` in Consul KV, and per-environment locks `<prefix>/locks/<env>` held by a session
// (TTL, renewed at half of it; LockDelay after a holder's session ends) so two replicas never apply one
// environment at once and another takes over when the holder dies: its session expires with the TTL and
// the lock is released (after the lock delay).
import { hostname } from "node:os";
import { newestFirst, type RunRecord, type TaskRecord } from "../../model/index.js";
import type { StateStore } from "../../ports/index.js";
import { ConsulError, type ConsulClient } from "../consul/client.js";
import { LockBusyError, type EnvLocks, type Lease, type LockHolder } from "../../ports/locks.js";
import { sleep } from "./sleep.js";

const RUN_ID = /^r-[0-9A-Za-z-]+$/;

/** The KV prefix for an environment's `state.path`: the default `.amphi` becomes `amphi`. */
export function consulPrefix(path: string): string {
  const p = path.replace(/^\.?\/*|\/+$/g, "");
  return p || "amphi";
}

/** Runs in Consul KV. */
export class ConsulStateStore implements StateStore {
  constructor(
    private readonly client: ConsulClient,
    readonly prefix: string,
  ) {}

  /** Writes the run (one KV value; Consul's limit is 512 KB, a run with 20-line tails is far below). */
  async saveRun(run: RunRecord): Promise<void> {
    await this.client.put(`/v1/kv/${this.prefix}/runs/${run.id}`, { body: run });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!RUN_ID.test(id)) return null;
    try {
      return (await this.client.get<RunRecord>(`/v1/kv/${this.prefix}/runs/${id}`, { query: { raw: "" } })).data;
    } catch (e) {
      if (e instanceof ConsulError && e.status === 404) return null;
      throw e;
    }
  }

  /** Runs, newest first (IDs sort by creation time). */
  async listRuns(opts: { env?: string; limit?: number } = {}): Promise<RunRecord[]> {
    let entries: { Key: string; Value: string | null }[];
    try {
      entries = (await this.client.get<{ Key: string; Value: string | null }[]>(`/v1/kv/${this.prefix}/runs/`, { query: { recurse: "" } })).data ?? [];
    } catch (e) {
      if (e instanceof ConsulError && e.status === 404) return [];
      throw e;
    }
    const runs = entries
      .filter((e) => e.Value)
      .map((e) => JSON.parse(Buffer.from(e.Value!, "base64").toString("utf8")) as RunRecord)
      .filter((r) => !opts.env || r.env === opts.env)
      .sort(newestFirst);
    return opts.limit ? runs.slice(0, opts.limit) : runs;
  }

  async findTask(taskId: string): Promise<{ run: RunRecord; task: TaskRecord } | null> {
    const run = await this.getRun(taskId.replace(/\.\d+$/, ""));
    const task = run?.tasks.find((t) => t.id === taskId);
    return run && task ? { run, task } : null;
  }
}

/** Options of ConsulEnvLocks. */
export interface ConsulLockOptions {
  /** Session TTL (default 15s; Consul invalidates a session not renewed within it, at most 2× later). */
  ttl?: string;
  ttlMs?: number;
  /** Wait after a holder's session ends before another may take the lock (default 5s). */
  lockDelay?: string;
  pollMs?: number;
}

/** Per-environment locks held by one Consul session of this process. */
export class ConsulEnvLocks implements EnvLocks {
  private session: Promise<string> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly held = new Map<string, AbortController>();
  private readonly ttl: string;
  private readonly ttlMs: number;

  constructor(
    private readonly client: ConsulClient,
    readonly prefix: string,
    private readonly opts: ConsulLockOptions = {},
  ) {
    this.ttl = opts.ttl ?? "15s";
    this.ttlMs = opts.ttlMs ?? 15_000;
  }

  /** Takes `env`'s lock (see EnvLocks); the holder's pid, host and time are the key's value. */
  async acquire(env: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Lease> {
    const key = `/v1/kv/${this.prefix}/locks/${env}`;
    const start = Date.now();
    for (let attempt = 1; ; attempt++) {
      const sid = await this.sessionId();
      const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      const got = await this.client.put(key, { query: { acquire: sid }, body: me });
      if (got.trim() === "true") return this.lease(env, key, sid, attempt === 1 ? 0 : Date.now() - start);
      const left = opts.timeoutMs - (Date.now() - start);
      if (left <= 0 || opts.signal?.aborted) throw new LockBusyError(env, await this.holder(key));
      await sleep(Math.min(this.opts.pollMs ?? 250, left), opts.signal);
    }
  }

  /** Releases what is held and destroys the session (on the way out). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.session;
    this.session = null;
    if (s) await this.client.put(`/v1/session/destroy/${await s.catch(() => "")}`).catch(() => {});
  }

  private lease(env: string, key: string, sid: string, waitedMs: number): Lease {
    const lost = new AbortController();
    this.held.set(env, lost);
    return {
      waitedMs,
      lost: lost.signal,
      release: async () => {
        this.held.delete(env);
        await this.client.put(key, { query: { release: sid } }).catch(() => {});
      },
    };
  }

  private async holder(key: string): Promise<LockHolder | null> {
    try {
      const [e] = (await this.client.get<{ Value: string | null; Session?: string }[]>(key)).data ?? [];
      return e?.Value ? (JSON.parse(Buffer.from(e.Value, "base64").toString("utf8")) as LockHolder) : null;
    } catch {
      return null;
    }
  }

  private sessionId(): Promise<string> {
    this.session ??= this.client
      .put("/v1/session/create", { body: { Name: `amphi ${hostname()} pid ${process.pid}`, TTL: this.ttl, LockDelay: this.opts.lockDelay ?? "5s", Behavior: "release" } })
      .then((text) => {
        const id = (JSON.parse(text) as { ID: string }).ID;
        this.renewEvery(id);
        return id;
      });
    this.session.catch(() => (this.session = null));
    return this.session;
  }

  // Renews at half the TTL. A session that is gone (expired while this process stalled, destroyed by an
  // operator) has lost its locks: running cycles holding them are aborted, the next acquire makes a new one.
  private renewEvery(id: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => {
      this.client.put(`/v1/session/renew/${id}`).catch((e: Error) => {
        if (!(e instanceof ConsulError && e.status === 404)) return;
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        this.session = null;
        for (const [, c] of this.held) c.abort(new Error(`the Consul session holding the lock is gone: ${e.message}`));
        this.held.clear();
      });
    }, Math.max(100, this.ttlMs / 2));
    this.timer.unref();
  }
}

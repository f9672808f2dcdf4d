// `amphi serve`'s pod watch: a pod that becomes ready, stops being ready or is deleted reaches Consul within
// seconds, without waiting for the next cycle. Per environment with Consul enabled and per cluster, a watch
// of amphi's pods (PodSource.watch); a change schedules a pod sync of that cluster (pod-sync.ts), debounced
// (`debounceMs`, 100 ms: a rollout changes several pods at once) and one at a time per environment (changes
// during a sync fold into one more). The environment and its apps come from the last cycle's observation
// (`observed`, the cycle's onObserved), so a new config re-targets the watches.
// The watcher is the one writer of an environment's pod registrations while serve runs: a cycle's sync goes
// through `syncNow`, queued behind (and ahead of) the watch's syncs, so a sync never decides from pods read
// before another sync's writes (a cycle re-registering a pod the watch just removed).
import { canonicalJson, type AppModel, type EnvironmentModel } from "../model/index.js";
import type { PodCatalog, PodCatalogFor, PodSource, PodWatch } from "../ports/pods.js";
import { formatPodSync, syncPods, type PodSyncResult } from "./pod-sync.js";

/** Options of the pod watch. */
export interface PodWatcherOptions {
  pods: PodSource;
  catalogFor: PodCatalogFor;
  log(line: string): void;
  /** Time pod changes are gathered before a sync (default 100 ms). */
  debounceMs?: number;
  /** Told each sync's result (tests and metrics). */
  onSync?(env: string, result: PodSyncResult): void;
}

interface EnvState {
  env: EnvironmentModel;
  apps: readonly AppModel[];
  key: string;
  catalog: PodCatalog;
  abort: AbortController;
  watches: PodWatch[];
  pending: Set<string>;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  /** Syncs failed in a row (the retry backs off: 100 ms doubling to 30 s). */
  failures: number;
}

/** Watches the pods of the served environments and syncs them into Consul on every change. */
export class PodWatcher {
  private readonly envs = new Map<string, EnvState>();
  /** Per environment, the end of the queue of syncs (watch and cycle alike): one at a time. */
  private readonly queues = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: PodWatcherOptions) {}

  /** The environment as the last cycle loaded it: starts, re-targets or stops its watches. */
  observed(o: { env: EnvironmentModel; model: { apps: readonly AppModel[] } }): void {
    if (this.stopped) return;
    const env = o.env;
    const cur = this.envs.get(env.name);
    const key = envKey(env);
    if (cur && cur.key === key) {
      cur.env = env;
      cur.apps = o.model.apps;
      return;
    }
    if (cur) this.end(cur);
    if (!env.consul.enabled || env.clusters.length === 0) return;
    let catalog: PodCatalog;
    try {
      catalog = this.opts.catalogFor(env);
    } catch (e) {
      this.opts.log(`amphi: ${env.name}: pods are not synced into Consul: ${(e as Error).message}`);
      return;
    }
    const st: EnvState = { env, apps: o.model.apps, key, catalog, abort: new AbortController(), watches: [], pending: new Set(), timer: null, running: null, failures: 0 };
    this.envs.set(env.name, st);
    for (const cluster of env.clusters) {
      st.watches.push(
        this.opts.pods.watch(env, cluster, {
          onChange: () => this.schedule(st, cluster.name),
          onError: (e) => this.opts.log(`amphi: ${env.name}: pod watch: ${e.message}`),
          signal: st.abort.signal,
        }),
      );
    }
  }

  /** Ends every watch and waits for running syncs. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running = [...this.envs.values()].map((st) => this.end(st));
    this.envs.clear();
    await Promise.allSettled(running);
  }

  private end(st: EnvState): Promise<void> {
    st.abort.abort();
    for (const w of st.watches) w.stop();
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    if (this.envs.get(st.env.name) === st) this.envs.delete(st.env.name);
    return st.running ?? Promise.resolve();
  }

  private schedule(st: EnvState, cluster: string): void {
    st.pending.add(cluster);
    if (st.timer || st.running || st.abort.signal.aborted) return;
    st.timer = setTimeout(() => {
      st.timer = null;
      this.sync(st);
    }, st.failures > 0 ? Math.min(30_000, 100 * 2 ** Math.min(st.failures, 10)) : (this.opts.debounceMs ?? 100));
  }

  private sync(st: EnvState): void {
    st.running = this.queued(st.env.name, async () => {
      // The clusters changed until this sync starts (a cycle's sync ahead in the queue may have covered them).
      const clusters = [...st.pending].sort();
      st.pending.clear();
      if (clusters.length === 0 || st.abort.signal.aborted) return;
      try {
        const r = await syncPods({ pods: this.opts.pods, catalog: st.catalog }, st.env, st.apps, { clusters, signal: st.abort.signal });
        if (st.abort.signal.aborted) return;
        // A write that failed is tried again (what the registry holds is read anew each time).
        st.failures = r.failed.length > 0 ? st.failures + 1 : 0;
        if (r.failed.length > 0) for (const c of clusters) st.pending.add(c);
        for (const line of formatPodSync(st.env.name, r)) this.opts.log(line);
        this.opts.onSync?.(st.env.name, r);
      } catch (e) {
        if (st.abort.signal.aborted) return;
        st.failures++;
        for (const c of clusters) st.pending.add(c);
        this.opts.log(`amphi: ${st.env.name}: pod sync of ${clusters.join(", ")} failed: ${(e as Error).message}`);
      }
    }).finally(() => {
      st.running = null;
      if (st.pending.size > 0) this.schedule(st, [...st.pending][0]!);
    });
  }

  /** A cycle's pod sync of every cluster of `env` (or with `apply` false only its decision), in the queue of
   * the environment's syncs: it waits for a running watch sync and the watch's next one waits for it. Logs what
   * it wrote; resolves null when pods are not synced (no Consul, no clusters) or the sync failed (logged). */
  async syncNow(env: EnvironmentModel, apps: readonly AppModel[], opts: { apply?: boolean; signal?: AbortSignal } = {}): Promise<PodSyncResult | null> {
    if (!env.consul.enabled || env.clusters.length === 0) return null;
    return this.queued(env.name, async () => {
      try {
        const st = this.envs.get(env.name);
        const catalog = st && st.key === envKey(env) ? st.catalog : this.opts.catalogFor(env);
        // Changes seen before a writing sync starts are in what it reads.
        if (st && opts.apply !== false) for (const c of env.clusters) st.pending.delete(c.name);
        const r = await syncPods({ pods: this.opts.pods, catalog }, env, apps, opts);
        for (const line of formatPodSync(env.name, r)) this.opts.log(line);
        if (opts.apply !== false) this.opts.onSync?.(env.name, r);
        return r;
      } catch (e) {
        this.opts.log(`amphi: ${env.name}: pod sync failed: ${(e as Error).message}`);
        return null;
      }
    });
  }

  // Runs `fn` after every sync queued before it for `env` has ended.
  private queued<T>(env: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(env) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.queues.set(env, tail);
    void tail.then(() => this.queues.get(env) === tail && this.queues.delete(env));
    return run;
  }
}

/** What the watches of an environment depend on: its clusters, the namespaces placed on them, its Consul. */
function envKey(env: EnvironmentModel): string {
  return canonicalJson({ clusters: env.clusters, placements: env.placements.flatMap((p) => (p.type === "cluster" ? [[p.cluster, p.namespace]] : [])), consul: env.consul });
}

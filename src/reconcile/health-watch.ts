// `amphi serve`'s Consul health watch: a check that changes in Consul (a health reporter fails or passes
// a TTL check, an instance is deregistered) reaches the commit statuses within a second, without waiting
// for the next cycle. Per environment with Consul enabled:
// - one blocking-query watch of `/v1/catalog/services` (to learn which services carry the tags `amphi` and
//   `env:<env>`), and one of `/v1/health/service/<name>?tag=amphi` per such service. Why not one watch of
//   `/v1/health/state/any`: it returns every check of the datacenter (node checks and other teams'
//   services too), so every check change anywhere wakes it and moves its whole answer; the per-service
//   endpoints are woken only by their service's changes and answer with what readRegistry reads anyway.
//   The cost is 1 + (amphi services of the env) open requests per environment.
// - on a change (debounced, `debounceMs`, 50 ms by default: a re-registration touches several endpoints),
//   the registry is read again (`readRegistry`) and the environment re-observed from the last cycle's
//   observation: same model and revision, the hosts' and clusters' actual state as the cycle read it, only
//   the `consul` resources replaced; the plan is made again from that (pure, so the steps of the other
//   runtimes are the cycle's). The report is written under a new ID (`<run-id>-health`) and the statuses
//   posted through an Observer that shares the cycles' memory of what was posted (see observe.ts): only
//   what changed is posted, on the revision the last cycle reported on.
// - after each cycle the registry is read again too: a cycle that read Consul before a change and posted
//   after the watch did would otherwise leave its older statuses on the commit.
// - Consul errors never end the watch (watch.ts backs off, 100 ms doubling to 30 s) and are logged once per
//   outage; a registry read that fails posts nothing (the statuses stay as they are: the next cycle reports
//   Consul as unreachable, as it always has).
// The observation of the last cycle comes through a callback (`observed`, the cycle's `onObserved`); the
// registry through the RegistryWatcher port (Consul: adapters/consul/watcher.ts).
import type { ActualResource, ActualState } from "../model/index.js";
import { CONSUL_TAG } from "../model/index.js";
import type { RegistryWatch, RegistryWatcher, WatchedRegistry } from "../ports/registry.js";
import { holdsRegistrations } from "../runtimes/registrations.js";
import { newRunId } from "./apply.js";
import { Observer, type ObserveDeps, type Observation } from "./observe.js";
import { planDesired, type Planner } from "./pipeline.js";

/** Options of the health watch. */
export interface HealthWatchOptions {
  /** How an environment's registry is watched and read. */
  registry: RegistryWatcher;
  /** How statuses are posted and reports written: the cycles' (their Observers share what was posted). */
  observe: ObserveDeps;
  /** The cycles' diff → plan step, when they replace it (default: planDesired). */
  plan?: Planner;
  log(line: string): void;
  /** Time changes are gathered before the registry is read (default 50 ms). */
  debounceMs?: number;
  /** Seconds a blocking query waits (default 120, as watch.ts). */
  waitSeconds?: number;
  /** An outage is over when no watch error came for this long (default 35 s: above the 30 s max backoff). */
  outageGapMs?: number;
}

interface EnvWatch {
  name: string;
  /** The last cycle's observation. */
  last: Observation;
  /** Consul settings the watches were started with. */
  key: string;
  registry: WatchedRegistry;
  abort: AbortController;
  catalog: RegistryWatch;
  services: Map<string, RegistryWatch>;
  timer: NodeJS.Timeout | null;
  running: Promise<void> | null;
  again: boolean;
  lastErrorAt: number;
  down: boolean;
}

/** Watches Consul health of the served environments and posts statuses on changes. */
export class HealthWatch {
  private readonly envs = new Map<string, EnvWatch>();
  private readonly broken = new Set<string>();
  private readonly observer: Observer;
  private readonly plan: Planner;
  private stopped = false;
  /** Re-observations done (for tests and benches). */
  reobserved = 0;

  constructor(private readonly opts: HealthWatchOptions) {
    this.observer = new Observer(opts.observe);
    this.plan = opts.plan ?? planDesired;
  }

  /** After a cycle of `env` ended: read the registry again (see the top of this file). */
  cycleEnded(env: string): void {
    const w = this.envs.get(env);
    if (w) this.schedule(w);
  }

  /** Number of services watched in `env` (tests). */
  watching(env: string): number | null {
    return this.envs.get(env)?.services.size ?? null;
  }

  /** Stops every watch and waits for a running re-observation. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const w of this.envs.values()) {
      this.close(w);
      if (w.running) running.push(w.running);
    }
    this.envs.clear();
    await Promise.allSettled(running);
  }

  /** A cycle's observation (give it as the cycle's `onObserved`): the state re-observed on registry changes;
   * starts, restarts (new Consul settings) or stops the environment's watches. */
  observed(o: Observation): void {
    if (this.stopped) return;
    const w = this.envs.get(o.env.name);
    const key = o.env.consul.enabled ? JSON.stringify([o.env.consul.address, o.env.consul.datacenter, o.env.consul.tokenEnv]) : null;
    if (w && w.key === key) {
      w.last = o;
      return;
    }
    if (w) {
      this.close(w);
      this.envs.delete(o.env.name);
    }
    if (key !== null) this.start(o, key);
  }

  private start(o: Observation, key: string): void {
    const env = o.env;
    let registry: WatchedRegistry;
    try {
      registry = this.opts.registry.open(env);
    } catch (e) {
      if (!this.broken.has(key)) this.opts.log(`amphi: ${env.name}: Consul health not watched: ${(e as Error).message}`);
      this.broken.add(key);
      return;
    }
    this.broken.delete(key);
    const abort = new AbortController();
    const w: EnvWatch = {
      name: env.name, last: o, key, registry, abort, services: new Map(), timer: null, running: null, again: false, lastErrorAt: -Infinity, down: false,
      catalog: undefined as unknown as RegistryWatch,
    };
    this.envs.set(env.name, w);
    const tagged = (tags: string[]): boolean => tags.includes(CONSUL_TAG) && tags.includes(`env:${env.name}`);
    w.catalog = registry.watchCatalog({
      signal: abort.signal,
      waitSeconds: this.opts.waitSeconds,
      onChange: (catalog) => {
        this.answered(w);
        const names = new Set(Object.entries(catalog).filter(([, tags]) => tagged(tags)).map(([name]) => name));
        let changed = false;
        for (const [name, watch] of w.services) {
          if (names.has(name)) continue;
          watch.stop();
          w.services.delete(name);
          changed = true;
        }
        for (const name of names) {
          if (w.services.has(name)) continue;
          changed = true;
          // The first answer of a new service watch is a change too (it schedules a read).
          w.services.set(name, registry.watchService(name, {
            signal: abort.signal, waitSeconds: this.opts.waitSeconds,
            onChange: () => {
              this.answered(w);
              this.schedule(w);
            },
            onError: (e) => this.failed(w, e),
          }));
        }
        if (changed) this.schedule(w);
      },
      onError: (e) => this.failed(w, e),
    });
    this.opts.log(`amphi: ${env.name}: watching Consul health at ${registry.address}: check changes post statuses without a cycle`);
  }

  private close(w: EnvWatch): void {
    w.abort.abort();
    w.catalog.stop();
    for (const s of w.services.values()) s.stop();
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
  }

  private failed(w: EnvWatch, e: Error): void {
    const now = performance.now();
    const gap = this.opts.outageGapMs ?? 35_000;
    if (!w.down || now - w.lastErrorAt > gap) {
      this.opts.log(`amphi: ${w.name}: watching Consul health: ${e.message} (retrying; logged once per outage)`);
    }
    w.down = true;
    w.lastErrorAt = now;
  }

  private answered(w: EnvWatch): void {
    if (!w.down) return;
    w.down = false;
    this.opts.log(`amphi: ${w.name}: Consul answers again at ${w.registry.address}`);
  }

  private schedule(w: EnvWatch): void {
    if (this.stopped || w.abort.signal.aborted) return;
    if (w.running) {
      w.again = true;
      return;
    }
    if (w.timer) return;
    w.timer = setTimeout(() => {
      w.timer = null;
      w.running = this.reobserve(w).finally(() => {
        w.running = null;
        if (w.again) {
          w.again = false;
          this.schedule(w);
        }
      });
    }, this.opts.debounceMs ?? 50);
  }

  /** Reads the registry and reports the last observation with it. Never throws. */
  private async reobserve(w: EnvWatch): Promise<void> {
    const o = w.last;
    let registry: ActualResource[];
    try {
      registry = await w.registry.read(o.env, w.abort.signal);
    } catch (e) {
      if (!w.abort.signal.aborted) this.failed(w, e as Error);
      return;
    }
    if (w.abort.signal.aborted) return;
    this.answered(w);
    const now = new Date();
    const actual: ActualState = {
      ...o.actual,
      observedAt: now.toISOString(),
      resources: [...o.actual.resources.filter((r) => !holdsRegistrations(r.runtime)), ...registry].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      unreachable: o.actual.unreachable.filter((u) => !holdsRegistrations(u.runtime)),
    };
    try {
      const plan = this.plan(o.model, o.env.name, actual, o.desired);
      await this.observer.report({ ...o, actual, plan, id: `${newRunId(now)}-health` });
      this.reobserved++;
    } catch (e) {
      this.opts.log(`amphi: ${w.name}: re-observing Consul health failed: ${(e as Error).message}`);
    }
  }
}

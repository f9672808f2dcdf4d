// The Envoy test double's server: what it holds (clusters with their endpoints, listeners, route configurations,
// each with the version it came in), readiness as Envoy's init manager sees it (PRE_INITIALIZING until ADS is
// up; INITIALIZING until the first CDS with every EDS cluster's endpoints and the first LDS with every route
// configuration its connection managers name have arrived and the listeners are bound, or the initial fetch
// timeout of 15 s has passed; then LIVE), and draining.
import type { AdsSink } from "./ads.js";
import { Listeners } from "./listeners.js";
import { DnsListeners } from "./dns.js";
import { T } from "./resources.js";
import { makeCluster, setEndpoints, retire, type Cluster } from "./upstream.js";
import { log } from "./log.js";

export type ServerState = "PRE_INITIALIZING" | "INITIALIZING" | "LIVE" | "DRAINING";

const INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** One resource as held, with its version and when it came. */
export interface Held {
  version: string;
  body: Record<string, any>;
  at: string;
}

/** The data plane and config of one double. */
export class DoubleServer implements AdsSink {
  readonly clusters = new Map<string, Cluster>();
  readonly held: Record<"cluster" | "endpoint" | "listener" | "route", Map<string, Held>> = { cluster: new Map(), endpoint: new Map(), listener: new Map(), route: new Map() };
  readonly listeners: Listeners;
  readonly dns: DnsListeners;
  state: ServerState = "PRE_INITIALIZING";
  private got = { cds: false, lds: false };
  private draining = false;
  private initTimer: NodeJS.Timeout | null = null;

  constructor() {
    const ctx = { cluster: (n: string) => this.clusters.get(n), route: (n: string) => this.held.route.get(n)?.body, draining: () => this.draining };
    this.listeners = new Listeners(ctx);
    this.dns = new DnsListeners();
  }

  connected(up: boolean): void {
    if (up && this.state === "PRE_INITIALIZING") {
      this.state = "INITIALIZING";
      // Envoy's initial_fetch_timeout: a resource that never comes does not hold the server back for ever.
      this.initTimer = setTimeout(() => this.becomeLive("initial fetch timeout"), INITIAL_FETCH_TIMEOUT_MS);
      this.initTimer.unref();
    }
  }

  namesFor(typeUrl: string): string[] {
    if (typeUrl === T.endpoint) return [...this.clusters.values()].filter((c) => c.kind === "EDS").map((c) => c.serviceName).sort();
    const names = new Set<string>();
    for (const { body } of this.held.listener.values()) {
      for (const chain of [...(body.filter_chains ?? []), ...(body.default_filter_chain ? [body.default_filter_chain] : [])]) {
        for (const f of chain.filters ?? []) if (f.typed_config?.rds?.route_config_name) names.add(String(f.typed_config.rds.route_config_name));
      }
    }
    return [...names].sort();
  }

  async apply(typeUrl: string, resources: ReadonlyMap<string, Record<string, unknown>>, version: string): Promise<void> {
    const at = new Date().toISOString();
    const hold = (m: Map<string, Held>) => {
      const before = new Map(m);
      m.clear();
      for (const [n, body] of resources) m.set(n, JSON.stringify(before.get(n)?.body) === JSON.stringify(body) ? before.get(n)! : { version, body: body as Record<string, any>, at });
    };
    if (typeUrl === T.cluster) {
      hold(this.held.cluster);
      this.applyClusters();
      this.got.cds = true;
      for (const n of [...this.held.endpoint.keys()]) if (!this.namesFor(T.endpoint).includes(n)) this.held.endpoint.delete(n);
    } else if (typeUrl === T.endpoint) {
      hold(this.held.endpoint);
      for (const c of this.clusters.values()) if (c.kind === "EDS") setEndpoints(c, this.held.endpoint.get(c.serviceName)?.body);
    } else if (typeUrl === T.listener) {
      await this.listeners.apply(resources as ReadonlyMap<string, Record<string, any>>);
      await this.dns.apply(resources as ReadonlyMap<string, Record<string, any>>);
      hold(this.held.listener);
      this.got.lds = true;
      for (const n of [...this.held.route.keys()]) if (!this.namesFor(T.route).includes(n)) this.held.route.delete(n);
    } else if (typeUrl === T.route) {
      hold(this.held.route);
    }
    this.checkInitialized();
  }

  /** Stops accepting (POST /drain_listeners, SIGTERM): HTTP answers say `connection: close` from now on. */
  drainListeners(): void {
    this.draining = true;
    this.listeners.stopAccepting();
    this.dns.close();
  }

  /** Closes everything. */
  close(): void {
    this.drainListeners();
    this.listeners.closeAll();
    for (const c of this.clusters.values()) retire(c);
  }

  private applyClusters(): void {
    const bodies = this.held.cluster;
    for (const [name, c] of [...this.clusters]) {
      if (!bodies.has(name)) {
        retire(c);
        this.clusters.delete(name);
      }
    }
    for (const [name, { body }] of bodies) {
      const before = this.clusters.get(name);
      if (before && JSON.stringify(before.body) === JSON.stringify(body)) continue;
      const c = makeCluster(body, before);
      if (c.kind === "EDS") setEndpoints(c, this.held.endpoint.get(c.serviceName)?.body);
      this.clusters.set(name, c);
    }
  }

  private checkInitialized(): void {
    if (this.state !== "INITIALIZING" || !this.got.cds || !this.got.lds) return;
    const missingEds = this.namesFor(T.endpoint).filter((n) => !this.held.endpoint.has(n));
    const missingRds = this.namesFor(T.route).filter((n) => !this.held.route.has(n));
    if (missingEds.length === 0 && missingRds.length === 0) this.becomeLive("initial config complete");
  }

  private becomeLive(why: string): void {
    if (this.state !== "INITIALIZING") return;
    if (this.initTimer) clearTimeout(this.initTimer);
    this.state = "LIVE";
    log("info", "main", `all clusters and listeners initialized (${why}); starting workers`);
  }
}

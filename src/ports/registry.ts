// The registry watch port: what `amphi serve`'s health watch (reconcile/health-watch.ts) needs from the
// service registry — a watch of its service catalog, a watch of one service's amphi-tagged instances, and
// a read of the environment's registrations as actual resources. Adapter: adapters/consul/watcher.ts.
import type { ActualResource, EnvironmentModel } from "../model/index.js";

/** A running watch; `stop()` ends it at once (no callback after it). */
export interface RegistryWatch {
  stop(): void;
}

/** Callbacks of a watch. Errors never end it: the adapter retries with backoff and reports each one. */
export interface RegistryWatchOptions<T> {
  /** Called with the first answer, then on every change of its content. */
  onChange(value: T): void;
  onError(error: Error): void;
  signal: AbortSignal;
  /** Seconds one blocking query may wait (the adapter's default when unset). */
  waitSeconds?: number;
}

/** One environment's registry, opened for watching. */
export interface WatchedRegistry {
  /** Where it is, for messages. */
  readonly address: string;
  /** Watches the catalog: service name → tags. */
  watchCatalog(opts: RegistryWatchOptions<Record<string, string[]>>): RegistryWatch;
  /** Watches the amphi-tagged instances of one service (any change of them calls onChange). */
  watchService(service: string, opts: RegistryWatchOptions<unknown>): RegistryWatch;
  /** The environment's registrations as actual resources (runtime `consul`); rejects when they cannot be read. */
  read(env: EnvironmentModel, signal: AbortSignal): Promise<ActualResource[]>;
}

/** Opens the registry of an environment. */
export interface RegistryWatcher {
  /** Throws when the environment's registry settings cannot be used (e.g. its token variable is unset). */
  open(env: EnvironmentModel): WatchedRegistry;
}

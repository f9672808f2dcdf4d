// The zone's source: Consul's service catalog (`GET /v1/catalog/services`), watched with the shared Consul
// watcher (src/adapters/consul/watch.ts: a full read at start, then blocking queries with a payload hash,
// index resets and backoff with jitter). Errors never clear what was last read: the caller keeps serving it.
import { ConsulClient, watchCatalog } from "../consul/index.js";

/** Where and how to read the catalog. The token is sent as `X-Consul-Token` and never appears in messages. */
export interface CatalogSettings {
  /** Base URL of the Consul HTTP API, e.g. `http://127.0.0.1:8500`. */
  address: string;
  datacenter: string | null;
  token: string | null;
  /** Blocking wait per request, seconds (the watcher's default when absent). */
  waitSeconds?: number;
  /** Longest pause between retries while Consul is unreachable (default 5 s: a restarted Consul is seen
   * again within seconds, which matters more to DNS than the few requests saved). */
  maxBackoffMs?: number;
}

/** What the watch reports. */
export interface CatalogEvents {
  /** The catalog's service names, on the first read and whenever they change. */
  onServices(names: string[], index: number): void;
  /** A failed read; the next one is tried after `retryMs`. */
  onError(err: Error, retryMs: number): void;
}

/** A source of catalog service names: `watch` runs until `signal` aborts. */
export interface ServiceCatalog {
  watch(events: CatalogEvents, signal: AbortSignal): Promise<void>;
}

/** The Consul catalog, read with blocking queries. */
export class ConsulCatalog implements ServiceCatalog {
  constructor(private readonly settings: CatalogSettings) {}

  async watch(events: CatalogEvents, signal: AbortSignal): Promise<void> {
    const client = new ConsulClient({ address: this.settings.address, token: this.settings.token, datacenter: this.settings.datacenter });
    const watch = watchCatalog(client, {
      onChange: (services, index) => events.onServices(Object.keys(services), index),
      onError: (err, retryMs) => events.onError(err, retryMs),
      signal,
      maxBackoffMs: this.settings.maxBackoffMs ?? 5000,
      ...(this.settings.waitSeconds !== undefined ? { waitSeconds: this.settings.waitSeconds } : {}),
    });
    await watch.done;
  }
}

/** A URL without user info (credentials never reach logs). */
export function redact(address: string): string {
  try {
    const u = new URL(/^https?:\/\//.test(address) ? address : `http://${address}`);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}

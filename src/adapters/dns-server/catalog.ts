// The zone's source: Consul's service catalog (`GET /v1/catalog/services`), a full read at start, then
// blocking queries (`index` + `wait`) so a registration shows up as soon as Consul has it. As DESIGN.md asks
// of every watch: a content hash against wake-ups that change nothing, the index reset when it goes
// backwards, backoff with jitter on errors. Errors never clear what was last read: the caller keeps serving it.
// (A stand-in until the shared Consul watcher in src/adapters/consul/ lands; same contract.)

/** Where and how to read the catalog. The token is sent as `X-Consul-Token` and never appears in messages. */
export interface CatalogSettings {
  /** Base URL of the Consul HTTP API, e.g. `http://127.0.0.1:8500`. */
  address: string;
  datacenter: string | null;
  token: string | null;
  /** Blocking wait per request, seconds (default 55: under undici's 300 s header timeout, Consul adds
   * up to wait/16 of jitter). */
  waitSeconds?: number;
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
    let index = 0;
    let lastHash: string | null = null;
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const { names, index: next } = await this.read(index, signal);
        failures = 0;
        // Consul's rules for blocking clients: reset when the index goes backwards, never block on 0.
        const unchanged = next === index;
        index = next < index ? 0 : Math.max(next, 1);
        const hash = names.join("\n");
        if (hash !== lastHash) {
          lastHash = hash;
          events.onServices(names, index);
        }
        // A server that answers at once with the same index would spin us; 50 ms keeps changes within 1 s.
        if (unchanged && Date.now() - started < 50) await sleep(50, signal);
      } catch (e) {
        if (signal.aborted) break;
        failures++;
        index = 0; // Consul may have restarted with lower indexes: read without blocking first.
        const base = Math.min(250 * 2 ** (failures - 1), 10_000);
        const retryMs = Math.round(base / 2 + Math.random() * (base / 2));
        events.onError(e instanceof Error ? e : new Error(String(e)), retryMs);
        await sleep(retryMs, signal);
      }
    }
  }

  /** One GET; blocks while `index` > 0. Returns the sorted service names and X-Consul-Index. */
  private async read(index: number, signal: AbortSignal): Promise<{ names: string[]; index: number }> {
    const wait = this.settings.waitSeconds ?? 55;
    const url = new URL("/v1/catalog/services", this.settings.address);
    url.searchParams.set("stale", ""); // any server may answer: mesh-dns prefers a slightly old table to none
    if (index > 0) {
      url.searchParams.set("index", String(index));
      url.searchParams.set("wait", `${wait}s`);
    }
    if (this.settings.datacenter) url.searchParams.set("dc", this.settings.datacenter);
    const headers: Record<string, string> = this.settings.token ? { "X-Consul-Token": this.settings.token } : {};
    const timeout = AbortSignal.timeout((index > 0 ? wait + wait / 16 + 10 : 10) * 1000);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.any([signal, timeout]) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`consul ${redact(this.settings.address)}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    const body = await res.text();
    if (!res.ok) throw new Error(`consul ${redact(this.settings.address)}: GET /v1/catalog/services: HTTP ${res.status} ${body.slice(0, 200).trim()}`);
    const parsed = JSON.parse(body) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`consul ${redact(this.settings.address)}: /v1/catalog/services is not an object`);
    return { names: Object.keys(parsed).sort(), index: Number(res.headers.get("x-consul-index") ?? 0) || 0 };
  }
}

/** A URL without user info (credentials never reach logs). */
export function redact(address: string): string {
  try {
    const u = new URL(address);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
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

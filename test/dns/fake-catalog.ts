// A tiny stand-in for Consul's `GET /v1/catalog/services` with blocking-query semantics (X-Consul-Index,
// `index` + `wait` blocks until the index moves past the one given or the wait ends), until the shared Consul
// test double (test/support/consul/) lands. `stop()` plays "Consul down" (the port refuses connections and
// blocked requests are cut), `start()` brings it back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** The fake catalog. */
export class FakeCatalog {
  index = 10;
  /** Tokens of the requests received, in order (to check the token is sent). */
  readonly tokens: (string | null)[] = [];
  requests = 0;
  private services = new Map<string, string[]>();
  private waiters = new Set<() => void>();
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  private port = 0;

  constructor(names: string[] = []) {
    for (const n of names) this.services.set(n, []);
  }

  /** Base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Registers (or re-registers) a service: the index moves and blocked requests return. */
  register(name: string, tags: string[] = []): void {
    this.services.set(name, tags);
    this.bump();
  }

  /** Removes a service. */
  deregister(name: string): void {
    this.services.delete(name);
    this.bump();
  }

  /** Moves the index without changing the data (Consul does this: the watch must not report it). */
  bump(): void {
    this.index++;
    for (const w of [...this.waiters]) w();
  }

  /** Listens (again) on 127.0.0.1, on the previous port when there was one. */
  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Goes down: no more connections, blocked requests cut off. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests++;
    this.tokens.push((req.headers["x-consul-token"] as string | undefined) ?? null);
    if (url.pathname !== "/v1/catalog/services") {
      res.writeHead(404).end("not found");
      return;
    }
    const index = Number(url.searchParams.get("index") ?? 0);
    const waitMs = Math.min(parseWait(url.searchParams.get("wait")), 600_000);
    const reply = (): void => {
      res.writeHead(200, { "content-type": "application/json", "x-consul-index": String(this.index) });
      res.end(JSON.stringify(Object.fromEntries([...this.services].sort())));
    };
    if (index === 0 || index < this.index) return reply();
    const done = (): void => {
      clearTimeout(timer);
      this.waiters.delete(done);
      if (!res.destroyed) reply();
    };
    const timer = setTimeout(done, waitMs);
    this.waiters.add(done);
    res.on("close", () => {
      clearTimeout(timer);
      this.waiters.delete(done);
    });
  }
}

function parseWait(text: string | null): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text ?? "");
  if (!m) return 300_000;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
}

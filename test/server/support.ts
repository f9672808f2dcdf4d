// Runs `amphi serve` in-process (the same `run` the executable calls) on port 0 and finds its address.
import { run } from "../../src/cli/main.js";

/** A running serve. */
export interface Serving {
  url: string;
  /** Everything it printed to stderr so far. */
  log(): string;
  /** Aborts it (as SIGTERM does) and returns its exit code. */
  stop(): Promise<number>;
}

/** Starts `amphi serve <args>` with `cwd`; resolves once it listens. */
export async function serve(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Serving> {
  let err = "";
  const ac = new AbortController();
  const done = run(["serve", ...args], { out: () => {}, err: (t) => void (err += t), cwd, env }, ac.signal);
  const t0 = Date.now();
  for (;;) {
    const m = /serving .* on (http:\/\/\S+)/.exec(err);
    if (m) return { url: m[1]!, log: () => err, stop: async () => (ac.abort(), done) };
    const early = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 20))]);
    if (early !== null) throw new Error(`serve exited with ${early}: ${err}`);
    // A safety net only: serve either says where it listens or exits (both seen above); loading the config
    // before it listens took over 20 s beside CPU hogs.
    if (Date.now() - t0 > 180_000) throw new Error(`serve did not start: ${err}`);
  }
}

/** Polls `f` until it returns a value (not undefined) or `ms` pass. */
export async function eventually<T>(f: () => Promise<T | undefined>, ms = 30_000, what = "condition"): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET/POST JSON. */
export async function http(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, text, headers: res.headers };
}

// Posting commit statuses over HTTP (fetch): one request per status, a per-request timeout, retries with
// exponential backoff and jitter on 5xx answers, timeouts and network errors; other 4xx answers fail that
// status at once. Each forge is a small Dialect (URL, headers, body, its own "already set" answer).
import type { CommitStatus } from "../../health/status.js";
import { truncateDescription } from "../../health/status.js";
import { failAll, isCommitSha, type PostResult, type StatusReporter } from "./types.js";
import { forEachLimit } from "../../model/index.js";

/** How hard to try. Defaults: 4 tries, 10 s per request, 250 ms first backoff doubling up to 4 s. */
export interface RetryOptions {
  attempts?: number;
  timeoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Statuses posted at once (default 4). */
  concurrency?: number;
  /** Injectable for tests: jitter source in [0, 1) and the wait between tries. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Options of the HTTP reporters. */
export interface HttpReporterOptions extends RetryOptions {
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

/** What differs between forges. */
export interface Dialect {
  provider: string;
  url(sha: string): string;
  headers(token: string | null): Record<string, string>;
  body(status: CommitStatus): unknown;
  /** Whether an error answer means the forge already has this state (GitLab's 400 on a repeated state). */
  alreadySet?(status: CommitStatus, httpStatus: number, message: string): boolean;
}

/** The token, by the name of the variable it came from (for messages) and its value (for headers only). */
export interface TokenSource {
  env: string | null;
  value: string | null;
}

const USER_AGENT = "amphi (commit statuses)";

/** A StatusReporter for one forge dialect. */
export class HttpStatusReporter implements StatusReporter {
  readonly provider: string;
  private readonly opts: Required<Omit<HttpReporterOptions, "fetch">> & { fetch: typeof fetch };

  constructor(
    private readonly dialect: Dialect,
    private readonly token: TokenSource,
    opts: HttpReporterOptions = {},
  ) {
    this.provider = dialect.provider;
    this.opts = {
      attempts: Math.max(1, opts.attempts ?? 4),
      timeoutMs: opts.timeoutMs ?? 10_000,
      baseDelayMs: opts.baseDelayMs ?? 250,
      maxDelayMs: opts.maxDelayMs ?? 4_000,
      concurrency: Math.max(1, opts.concurrency ?? 4),
      random: opts.random ?? Math.random,
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      fetch: opts.fetch ?? fetch,
    };
  }

  async post(sha: string, statuses: readonly CommitStatus[]): Promise<PostResult[]> {
    const where = (s: CommitStatus) => `${this.provider} status ${s.context}`;
    if (!isCommitSha(sha)) return failAll(statuses, (s) => `${where(s)}: ${JSON.stringify(sha.slice(0, 80))} is not a full commit SHA`);
    if (this.token.env && !this.token.value) return failAll(statuses, (s) => `${where(s)}: environment variable ${this.token.env} (status.tokenEnv) is not set`);
    const results: PostResult[] = new Array(statuses.length);
    await forEachLimit([...statuses.keys()], this.opts.concurrency, async (i) => {
      results[i] = await this.postOne(sha, statuses[i]!).catch((e: unknown) => this.failed(statuses[i]!, sha, null, 0, `unexpected error: ${String((e as Error)?.message ?? e)}`));
    });
    return results;
  }

  private async postOne(sha: string, status: CommitStatus): Promise<PostResult> {
    const s = { ...status, description: truncateDescription(status.description) };
    const init = { method: "POST", headers: { ...this.dialect.headers(this.token.value), "content-type": "application/json", "user-agent": USER_AGENT }, body: JSON.stringify(this.dialect.body(s)) };
    let last = "";
    let lastStatus: number | null = null;
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      if (attempt > 1) await this.opts.sleep(this.backoff(attempt - 1));
      try {
        const res = await this.opts.fetch(this.dialect.url(sha), { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        const text = await res.text().catch(() => "");
        lastStatus = res.status;
        if (res.ok) return { context: s.context, ok: true, httpStatus: res.status, attempts: attempt, error: null };
        const message = messageOf(text) || res.statusText;
        if (this.dialect.alreadySet?.(s, res.status, message)) return { context: s.context, ok: true, httpStatus: res.status, attempts: attempt, error: null };
        last = `HTTP ${res.status}${message ? `: ${message}` : ""}`;
        if (res.status < 500) return this.failed(s, sha, res.status, attempt, last);
      } catch (e) {
        lastStatus = null;
        last = networkError(e, this.opts.timeoutMs);
      }
    }
    return this.failed(s, sha, lastStatus, this.opts.attempts, `${last} (gave up after ${this.opts.attempts} tries)`);
  }

  /** Exponential backoff with "equal jitter": half the step fixed, half random, so retries of many
   * statuses spread out instead of hitting a recovering forge together. */
  private backoff(retry: number): number {
    const step = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (retry - 1));
    return step / 2 + this.opts.random() * (step / 2);
  }

  private failed(s: CommitStatus, sha: string, httpStatus: number | null, attempts: number, cause: string): PostResult {
    const error = scrub(`${this.provider} status ${s.context} on ${sha.slice(0, 12)}: ${cause}`, this.token.value);
    return { context: s.context, ok: false, httpStatus, attempts, error };
  }
}

/** The forge's own words from an error body: `message` (and GitHub's first `errors[].message`) or GitLab's
 * `error`, else the start of the text; one line, at most 200 characters. */
export function messageOf(body: string): string {
  let text = body;
  try {
    const doc = JSON.parse(body) as { message?: unknown; error?: unknown; errors?: { message?: unknown }[] };
    const said = doc.message ?? doc.error;
    const main = typeof said === "string" ? said : said !== undefined ? JSON.stringify(said) : "";
    const detail = Array.isArray(doc.errors) && typeof doc.errors[0]?.message === "string" ? doc.errors[0].message : "";
    text = [main, detail].filter(Boolean).join(": ") || body;
  } catch {
    // not JSON: keep the text
  }
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

function networkError(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError" || err?.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  const cause = err?.cause?.message ?? err?.cause?.code;
  return cause ? String(cause) : String(err?.message ?? e);
}

/** Removes the token from a text. Why: error bodies and network messages are echoed into results and logs,
 * and a forge or proxy might repeat what it was sent. */
export function scrub(text: string, token: string | null): string {
  return token ? text.split(token).join("***") : text;
}

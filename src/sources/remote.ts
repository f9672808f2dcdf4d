// A remote config repo (`--url`): mirrored once into `<stateDir>/sources/<hash of the URL>`, then fetched
// before every reconcile (interval, webhook, API). The snapshot is the fetched branch's commit, read from
// the mirror without a checkout. Fetches of one mirror never overlap; requests that arrive while one is
// queued share it.
import { join } from "node:path";
import { shortDigest } from "../model/index.js";
import { GitRevSource } from "../adapters/git/rev-source.js";
import { GitMirror } from "../adapters/watch/git-mirror.js";
import { redactUrl } from "../adapters/git/redact.js";
import type { RepoSource, Snapshot } from "../ports/sources.js";

/** Where the mirror of `url` lives: the hash of the URL without credentials (a new token keeps the cache). */
export function mirrorDir(stateDir: string, url: string): string {
  return join(stateDir, "sources", shortDigest(redactUrl(url)));
}

/** A remote repository fetched into a local mirror. */
export class RemoteSource implements RepoSource {
  readonly kind = "remote" as const;
  readonly description: string;
  private readonly mirror: GitMirror;
  private chain: Promise<unknown> = Promise.resolve();
  private queued = new Map<string, Promise<string>>();

  constructor(url: string, stateDir: string, env?: NodeJS.ProcessEnv) {
    this.mirror = new GitMirror(url, mirrorDir(stateDir, url), { env });
    this.description = this.mirror.displayUrl;
  }

  /** The bare mirror: git-notes statuses are kept there (amphi never pushes them). */
  get repoDir(): string {
    return this.mirror.dir;
  }

  /** Fetches `branch` (default `main`) and returns its commit. */
  async snapshot(branch: string | null, signal?: AbortSignal): Promise<Snapshot> {
    const b = branch ?? "main";
    const sha = await this.fetch(b, signal);
    const source = new GitRevSource(this.mirror.dir, sha);
    return { revision: sha, source, description: `${this.description}@${sha.slice(0, 12)}`, close: () => source.close() };
  }

  /** Remotes are not watched: they change by fetch. */
  async watch(): Promise<{ close(): Promise<void> }> {
    return { close: async () => {} };
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
  }

  // One fetch at a time per mirror; a request joins the fetch of its branch that has not started yet.
  private fetch(branch: string, signal?: AbortSignal): Promise<string> {
    const waiting = this.queued.get(branch);
    if (waiting) return waiting;
    const p = this.chain.catch(() => {}).then(async () => {
      this.queued.delete(branch);
      return (await this.retry(() => this.mirror.fetch([branch], signal))).get(branch)!;
    });
    this.queued.set(branch, p);
    this.chain = p;
    return p;
  }

  // Why: another amphi process may be fetching into the same mirror (`reconcile --once` from cron next to
  // `serve`); git then fails on a ref lock. Trying again shortly after is enough.
  private async retry<T>(f: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        if (attempt >= 3 || !/\.lock|cannot lock ref|Unable to create/i.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }
}

// A local bare mirror of a remote config repo, kept current with `git fetch`. Why init +
// fetch by URL instead of `git clone`: the URL (which may carry a token) is never written into the
// mirror's config; each fetch passes it on the command line of a child process only.
// Why these env vars: git must fail, not prompt, when credentials are missing (GIT_TERMINAL_PROMPT=0,
// an empty GIT_ASKPASS, ssh in BatchMode unless the user chose their own GIT_SSH_COMMAND).
// git starts through spawnPiped (no fork of a long-running `amphi serve`, which fetches every interval; this was
// simple-git, which forks and made a fetch that prints nothing ~50 ms slower).
import { existsSync, mkdirSync } from "node:fs";
import { redactText, redactUrl } from "../git/redact.js";
import { spawnPiped } from "../process/spawn.js";

/** Options of GitMirror. */
export interface GitMirrorOptions {
  /** Process environment the git child processes start from (GIT_* and askpass variables are replaced). */
  env?: NodeJS.ProcessEnv;
  /** Inactivity timeout of one git command (default 60 s): a stalled fetch fails instead of hanging. */
  timeoutMs?: number;
}

/** A bare mirror of `url` in `dir`; branches are fetched into `refs/heads/<branch>`. */
export class GitMirror {
  /** The URL without credentials, for messages. */
  readonly displayUrl: string;

  constructor(
    private readonly url: string,
    readonly dir: string,
    private readonly opts: GitMirrorOptions = {},
  ) {
    this.displayUrl = redactUrl(url);
  }

  /** Fetches `branches` from the remote (creating the mirror on first use) and returns branch → commit SHA. */
  async fetch(branches: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    if (!existsSync(this.dir)) {
      mkdirSync(this.dir, { recursive: true });
      await this.run(signal, ["init", "--quiet", "--bare"], "creating the mirror");
      await this.run(signal, ["config", "amphi.url", this.displayUrl], "creating the mirror");
    }
    const refspecs = branches.map((b) => `+refs/heads/${checkBranch(b)}:refs/heads/${b}`);
    await this.run(signal, ["fetch", "--no-tags", "--no-write-fetch-head", this.url, ...refspecs], `fetching ${branches.join(", ")}`);
    const out = new Map<string, string>();
    const shown = await this.run(signal, ["rev-parse", ...branches.map((b) => `refs/heads/${b}^{commit}`)], "resolving branches");
    shown.trim().split("\n").forEach((sha, i) => out.set(branches[i]!, sha.trim()));
    return out;
  }

  /** Runs git in the mirror; resolves its stdout, rejects naming the source and `what` (git's last lines, the URL's
   * credentials redacted) when it fails, is aborted, or prints nothing for `timeoutMs`. */
  private run(signal: AbortSignal | undefined, args: string[], what: string): Promise<string> {
    const fail = (why: string): Error => new Error(`git source ${this.displayUrl}: ${what} failed: ${redactText(why, [this.url])}`);
    if (signal?.aborted) return Promise.reject(fail("aborted"));
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      // detached: a process group of its own, so a stop reaches the remote helper git started (git-remote-http
      // holds the pipes open while it waits on the server)
      const child = spawnPiped("git", args, { cwd: this.dir, env: this.env(), detached: true });
      const out: Buffer[] = [];
      let err = "";
      let stopped: string | null = null;
      const stop = (why: string): void => {
        stopped ??= why;
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      };
      // an inactivity timeout: each output starts it again
      const timer = setTimeout(() => stop(`no output for ${timeoutMs} ms`), timeoutMs);
      const active = (): void => void timer.refresh();
      const onAbort = (): void => stop("aborted");
      signal?.addEventListener("abort", onAbort, { once: true });
      child.stdout.on("data", (b: Buffer) => (out.push(b), active()));
      child.stderr.on("data", (b: Buffer) => ((err = (err + b.toString("utf8")).slice(-8000)), active()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      child.on("error", (e: Error) => (done(), reject(fail(e.message))));
      child.on("close", (code: number | null) => {
        done();
        if (stopped) return reject(fail(stopped));
        if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
        const lines = err.split("\n").filter((l) => l.trim() && !/^From /.test(l));
        reject(fail(lines.slice(-3).join("; ") || `git exited with ${code}`));
      });
      child.stdin.end();
    });
  }

  /** The environment git runs with: the caller's, where git must fail rather than prompt (see the file's head). */
  private env(): NodeJS.ProcessEnv {
    const base = this.opts.env ?? process.env;
    const env: NodeJS.ProcessEnv = { ...base };
    // the directory named decides the repository (these are set inside git hooks, where amphi may well run)
    for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"]) delete env[k];
    env.GIT_TERMINAL_PROMPT = "0";
    env.GIT_ASKPASS = "";
    env.SSH_ASKPASS = "";
    env.GIT_SSH_COMMAND = base.GIT_SSH_COMMAND || "ssh -o BatchMode=yes";
    return env;
  }
}

/** Why: a branch name reaches a refspec; one starting with `-` or holding `:`/spaces would change its meaning. */
function checkBranch(b: string): string {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._/-]*$/.test(b) || b.includes("..") || b.endsWith(".lock")) throw new Error(`invalid branch name "${b}"`);
  return b;
}

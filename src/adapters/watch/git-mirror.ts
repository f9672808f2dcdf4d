// A local bare mirror of a remote config repo, kept current with `git fetch` (simple-git). Why init +
// fetch by URL instead of `git clone`: the URL (which may carry a token) is never written into the
// mirror's config; each fetch passes it on the command line of a child process only.
// Why these env vars: git must fail, not prompt, when credentials are missing (GIT_TERMINAL_PROMPT=0,
// an empty GIT_ASKPASS, ssh in BatchMode unless the user chose their own GIT_SSH_COMMAND).
import { existsSync, mkdirSync } from "node:fs";
import { simpleGit, type SimpleGit } from "simple-git";
import { redactText, redactUrl } from "../git/redact.js";

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
      await this.git(signal).raw(["init", "--quiet", "--bare"]);
      await this.git(signal).raw(["config", "amphi.url", this.displayUrl]);
    }
    const refspecs = branches.map((b) => `+refs/heads/${checkBranch(b)}:refs/heads/${b}`);
    // `-v`: a fetch that prints nothing costs ~50 ms more through simple-git (see LIBRARIES.md).
    await this.run(signal, ["fetch", "-v", "--no-tags", "--no-write-fetch-head", this.url, ...refspecs], `fetching ${branches.join(", ")}`);
    const out = new Map<string, string>();
    const shown = await this.run(signal, ["rev-parse", ...branches.map((b) => `refs/heads/${b}^{commit}`)], "resolving branches");
    shown.trim().split("\n").forEach((sha, i) => out.set(branches[i]!, sha.trim()));
    return out;
  }

  private async run(signal: AbortSignal | undefined, args: string[], what: string): Promise<string> {
    try {
      return await this.git(signal).raw(args);
    } catch (e) {
      const msg = (e as Error).message.trim().split("\n").filter((l) => l.trim() && !/^From /.test(l)).slice(-3).join("; ");
      throw new Error(`git source ${this.displayUrl}: ${what} failed: ${redactText(msg, [this.url])}`);
    }
  }

  private git(signal?: AbortSignal): SimpleGit {
    const base = this.opts.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    // simple-git refuses guarded variables it was not told about (GIT_*, editors, pagers, askpass, PREFIX).
    for (const [k, v] of Object.entries(base)) if (!/^(GIT_.*|SSH_ASKPASS|EDITOR|VISUAL|PAGER|PREFIX)$/i.test(k)) env[k] = v;
    env.GIT_TERMINAL_PROMPT = "0";
    env.GIT_ASKPASS = "";
    env.SSH_ASKPASS = "";
    env.GIT_SSH_COMMAND = base.GIT_SSH_COMMAND || "ssh -o BatchMode=yes";
    return simpleGit({
      baseDir: this.dir,
      allowEnvironment: ["GIT_TERMINAL_PROMPT", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_SSH_COMMAND"],
      unsafe: { allowUnsafeAskPass: true, allowUnsafeSshCommand: true },
      timeout: { block: this.opts.timeoutMs ?? 60_000 },
      ...(signal ? { abort: signal } : {}),
    }).env(env);
  }
}

/** Why: a branch name reaches a refspec; one starting with `-` or holding `:`/spaces would change its meaning. */
function checkBranch(b: string): string {
  if (!/^[A-Za-z0-9._][A-Za-z0-9._/-]*$/.test(b) || b.includes("..") || b.endsWith(".lock")) throw new Error(`invalid branch name "${b}"`);
  return b;
}

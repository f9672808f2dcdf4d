// A config repo on this machine. In a Git repository the loop reconciles a commit — HEAD, or a branch
// when one is named — read without a checkout (uncommitted edits are not GitOps: they are ignored).
// A plain directory is read as it is; it has no revision.
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { InputError } from "../model/index.js";
import { DirSource } from "../adapters/fs/dir-source.js";
import { GitRevSource } from "../adapters/git/rev-source.js";
import { runGit } from "../adapters/git/run-git.js";
import { watchDir } from "../adapters/watch/dir-watcher.js";
import type { RepoSource, Snapshot } from "../ports/sources.js";

/** A local config directory; `gitDir` is set when it is (inside) a Git repository. */
export class LocalSource implements RepoSource {
  readonly kind: "directory" | "git";
  readonly description: string;

  constructor(
    readonly dir: string,
    readonly gitDir: string | null,
    private readonly debounceMs = 300,
  ) {
    this.kind = gitDir ? "git" : "directory";
    this.description = dir;
  }

  /** The directory when it is in a Git repository (git notes go there), else null. */
  get repoDir(): string | null {
    return this.gitDir ? this.dir : null;
  }

  /** HEAD's (or `branch`'s) commit for a Git repository; the directory itself otherwise. */
  async snapshot(branch: string | null): Promise<Snapshot> {
    if (!this.gitDir) {
      const source = new DirSource(this.dir);
      return { revision: null, source, description: this.dir, close: () => {} };
    }
    const sha = await this.commit(branch);
    const source = new GitRevSource(this.dir, sha);
    return { revision: sha, source, description: `${this.dir}@${sha.slice(0, 12)}`, close: () => source.close() };
  }

  /** Watches the directory (debounced). In a Git repository only a new commit of HEAD counts: edits to
   * the working tree wake the watcher but are not reported. */
  async watch(onChange: () => void, onError: (e: Error) => void): Promise<{ close(): Promise<void> }> {
    let last = this.gitDir ? await this.commit(null).catch(() => "") : "";
    const gitDir = this.gitDir && resolve(this.gitDir) !== resolve(this.dir, ".git") ? this.gitDir : null;
    const w = watchDir(
      this.dir,
      () => {
        if (!this.gitDir) return onChange();
        void this.commit(null).then(
          (sha) => {
            if (sha === last) return;
            last = sha;
            onChange();
          },
          (e: Error) => onError(e),
        );
      },
      { debounceMs: this.debounceMs, gitDir, onError },
    );
    await w.ready;
    return w;
  }

  async close(): Promise<void> {}

  /** The commit SHA of `branch` (or HEAD). */
  async commit(branch: string | null): Promise<string> {
    const rev = branch ? `refs/heads/${branch}` : "HEAD";
    const r = await runGit(this.dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]);
    if (r.code !== 0) {
      throw new InputError(branch ? `config repo ${this.dir} has no branch "${branch}" (--branch)` : `config repo ${this.dir} has no commit yet: commit the config (amphi reconciles commits, not the working tree)`);
    }
    return r.stdout.toString("utf8").trim();
  }
}

/** Opens `dir` as a local source: a Git repository when git says so, else a plain directory. */
export async function openLocalSource(dir: string, debounceMs?: number): Promise<LocalSource> {
  if (!existsSync(dir)) throw new InputError(`config repo ${dir} does not exist (--repo)`);
  const r = await runGit(dir, ["rev-parse", "--absolute-git-dir"]).catch(() => null);
  const gitDir = r && r.code === 0 ? r.stdout.toString("utf8").trim() : null;
  return new LocalSource(resolve(dir), gitDir, debounceMs);
}

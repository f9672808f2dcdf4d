// ConfigSource over one Git revision, read without a checkout: what was committed, not the working tree.
// The revision is resolved to a commit SHA once; the directory may be a subdirectory of the repository
// (the config repo is then that subdirectory at the revision).
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError } from "../../model/index.js";
import type { ConfigSource } from "../../ports/index.js";
import { CatFileBatch } from "./cat-file.js";
import { runGit } from "./run-git.js";

interface Resolved {
  sha: string;
  /** Path of `dir` inside the repository, `""` or ending in `/`. */
  prefix: string;
}

/** A config repo read from a Git revision (`HEAD`, a branch, a tag, a SHA) of the repository at `dir`. */
export class GitRevSource implements ConfigSource {
  readonly description: string;
  private readonly dir: string;
  private resolved: Promise<Resolved> | null = null;
  private readonly batch: CatFileBatch;

  constructor(dir: string, private readonly rev: string) {
    this.dir = resolve(dir);
    this.description = `${this.dir}@${rev}`;
    this.batch = new CatFileBatch(this.dir);
  }

  /** The commit SHA the revision resolves to (resolved once; later calls agree). */
  async revision(): Promise<string> {
    return (await this.resolve()).sha;
  }

  /** Every file under `prefix` at the revision, recursively, sorted. */
  async list(prefix: string): Promise<string[]> {
    const { sha, prefix: base } = await this.resolve();
    const clean = prefix.replace(/\/+$/, "");
    const path = `${base}${clean}`;
    const args = ["--literal-pathspecs", "ls-tree", "-r", "--name-only", "-z", "--full-tree", sha, ...(path ? ["--", path] : [])];
    const r = await runGit(this.dir, args);
    if (r.code !== 0) throw new Error(`listing ${clean || "/"} in ${this.description} failed: ${r.stderr}`);
    const names = r.stdout.toString("utf8").split("\0").filter((n) => n !== "");
    const inside = names.map((n) => n.slice(base.length)).filter((n) => clean === "" || n.startsWith(`${clean}/`));
    return inside.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The file's text at the revision, or null when there is no such file. */
  async read(path: string): Promise<string | null> {
    const found = await this.batch.contents(await this.object(path));
    return found && found.info.type === "blob" ? found.body.toString("utf8") : null;
  }

  /** Whether a file exists at the revision (its size is asked, its bytes are not read). */
  async exists(path: string): Promise<boolean> {
    return (await this.batch.info(await this.object(path)))?.type === "blob";
  }

  /** Stops the git process used for reading (it also stops by itself when idle). */
  close(): void {
    this.batch.close();
  }

  private async object(path: string): Promise<string> {
    if (path.startsWith("/") || path.split("/").some((s) => s === ".." || s === ".")) {
      throw new Error(`path "${path}" is outside the config repo ${this.description}`);
    }
    const { sha, prefix } = await this.resolve();
    return `${sha}:${prefix}${path}`;
  }

  private resolve(): Promise<Resolved> {
    this.resolved ??= resolveRev(this.dir, this.rev);
    return this.resolved;
  }
}

/** Resolves `rev` to a commit in the repository at `dir`, with clear errors for the usual mistakes. */
async function resolveRev(dir: string, rev: string): Promise<Resolved> {
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new InputError(`not a git repository: ${dir} (no such directory)`);
  // Why: a revision starting with "-" would be read by git as an option.
  if (rev.startsWith("-") || rev.trim() === "") throw new InputError(`unknown revision "${rev}" in ${dir}`);
  const [where, commit] = await Promise.all([
    runGit(dir, ["rev-parse", "--show-prefix"]),
    runGit(dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]),
  ]);
  if (where.code !== 0) {
    throw new InputError(/not a git repository/i.test(where.stderr) ? `not a git repository: ${dir}` : `git failed in ${dir}: ${where.stderr}`);
  }
  if (commit.code !== 0) throw new InputError(`unknown revision "${rev}" in ${dir}`);
  return { sha: commit.stdout.toString("utf8").trim(), prefix: where.stdout.toString("utf8").trim() };
}

// The demo's config repo: a Git repository made from the embedded example, so the main job runs as in
// production — a committed revision, git-notes statuses on it — without touching amphi's own checkout.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runGit } from "./run-git.js";

const AUTHOR = ["-c", "user.name=amphi demo", "-c", "user.email=demo@amphi.invalid", "-c", "commit.gpgsign=false"];

/** Makes (or updates) a Git repo at `dir` holding the files of `from`; commits when they changed.
 * Returns the HEAD commit. */
export async function syncDemoRepo(from: string, dir: string): Promise<string> {
  const fresh = !existsSync(join(dir, ".git"));
  if (fresh) {
    mkdirSync(dir, { recursive: true });
    await git(dir, ["init", "-q", "-b", "main"]);
  }
  for (const sub of ["apps", "environments", "packages"]) rmSync(join(dir, sub), { recursive: true, force: true });
  cpSync(from, dir, { recursive: true, filter: (src) => !src.includes("/.git") });
  await git(dir, ["add", "-A"]);
  const status = await git(dir, ["status", "--porcelain"]);
  if (fresh || status.trim() !== "") await git(dir, [...AUTHOR, "commit", "-q", "--allow-empty", "-m", fresh ? "example config repo" : "example config repo (updated)"]);
  return (await git(dir, ["rev-parse", "HEAD"])).trim();
}

/** The JSON note amphi wrote on `sha` (`refs/notes/amphi`), or null. */
export async function readNote(dir: string, sha: string): Promise<string | null> {
  const r = await runGit(dir, ["notes", "--ref", "amphi", "show", sha]);
  return r.code === 0 ? r.stdout.toString("utf8") : null;
}

async function git(dir: string, args: string[]): Promise<string> {
  const r = await runGit(dir, args);
  if (r.code !== 0) throw new Error(`git ${args.filter((a) => !a.includes("=")).join(" ")} in ${dir} failed: ${r.stderr}`);
  return r.stdout.toString("utf8");
}

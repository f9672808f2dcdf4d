// Real Git repositories in temp dirs for tests: unique names per run, removed by cleanup().
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runPiped } from "../../src/adapters/process/spawn.js";

/** Identity and settings for test commits, independent of the machine's git config. */
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "amphi test",
  GIT_AUTHOR_EMAIL: "test@amphi.invalid",
  GIT_COMMITTER_NAME: "amphi test",
  GIT_COMMITTER_EMAIL: "test@amphi.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0",
};

/** Runs git in `dir` and returns its trimmed stdout. maintenance.auto off: otherwise every commit starts one more git
 * process (`git maintenance run --auto`), which a test repository of a few commits never needs. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const r = await runPiped("git", ["-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-c", "maintenance.auto=false", ...args], { cwd: dir, env: GIT_ENV });
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} in ${dir} failed (${r.signal ?? `exit ${r.code}`}): ${r.stderr.toString("utf8").trim()}`);
  return r.stdout.toString("utf8").trim();
}

/** Makes `dir` a Git repository with branch `main`. */
export async function initRepo(dir: string): Promise<void> {
  await git(dir, "init", "-q", "-b", "main");
}

/** Stages everything in `dir` and commits it; returns the new commit's SHA. */
export async function commitAll(dir: string, message: string): Promise<string> {
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "--allow-empty", "-m", message);
  return git(dir, "rev-parse", "HEAD");
}

/** Writes files (repo-relative path → text) into `dir`, creating folders; null deletes the file. */
export function writeFiles(dir: string, files: Record<string, string | null>): void {
  for (const [path, text] of Object.entries(files)) {
    const abs = join(dir, path);
    if (text === null) rmSync(abs, { force: true });
    else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, text);
    }
  }
}

/** A temporary Git repository. */
export interface TempRepo {
  dir: string;
  /** Writes (or, with null, deletes) files in the working tree. */
  write(files: Record<string, string | null>): void;
  /** Commits the working tree; returns the commit SHA. */
  commit(message: string): Promise<string>;
  /** Removes the repository. */
  cleanup(): void;
}

/** Creates a temporary repository holding `files`, committed once when `commit` is given. */
export async function tempRepo(files: Record<string, string> = {}, commit?: string): Promise<TempRepo> {
  const dir = mkdtempSync(join(tmpdir(), `amphi-git-${process.pid}-`));
  await initRepo(dir);
  const repo: TempRepo = {
    dir,
    write: (f) => writeFiles(dir, f),
    commit: (message) => commitAll(dir, message),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  repo.write(files);
  if (commit !== undefined) await repo.commit(commit);
  return repo;
}

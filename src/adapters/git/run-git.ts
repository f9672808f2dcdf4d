// Spawning git plumbing commands directly (no wrapper library: these are short, scripted calls).
import { spawnPiped } from "../process/spawn.js";

/** The environment git runs with. Why: GIT_TERMINAL_PROMPT=0 so a credential prompt fails instead of
 * hanging a reconcile loop; GIT_DIR/GIT_WORK_TREE are dropped so the directory we name decides the repo
 * (they are set inside git hooks, where amphi may well run). */
export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0" };
  delete env.GIT_DIR;
  delete env.GIT_WORK_TREE;
  delete env.GIT_INDEX_FILE;
  return env;
}

/** The outcome of one git command. */
export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs `git <args>` in `cwd` and collects its output; never rejects for a non-zero exit. */
export function runGit(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawnPiped("git", args, { cwd, env: gitEnv() });
    child.stdin.on("error", () => {});
    child.stdin.end();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(e.code === "ENOENT" ? new Error(`cannot run git in ${cwd} (is git installed and does the directory exist?)`) : e);
    });
    child.on("close", (code: number | null) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8").trim() }));
  });
}

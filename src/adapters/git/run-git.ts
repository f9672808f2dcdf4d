// Spawning git plumbing commands directly (no wrapper library: these are short, scripted calls).
import { runPiped } from "../process/spawn.js";

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

/** Runs `git <args>` in `cwd` (with `input` on its stdin, else none) and collects its output; never rejects for a
 * non-zero exit. */
export async function runGit(cwd: string, args: string[], input?: string): Promise<GitResult> {
  try {
    const r = await runPiped("git", args, { cwd, env: gitEnv(), input });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr.toString("utf8").trim() };
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === "ENOENT" ? new Error(`cannot run git in ${cwd} (is git installed and does the directory exist?)`) : e;
  }
}

// Runs amphi's CLI in-process with captured output (the same `run` the executable calls).
import { run } from "../../src/cli/main.js";

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `amphi <args…>` with `cwd` as working directory. */
export async function amphi(args: string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, { out: (t) => void (stdout += t), err: (t) => void (stderr += t), cwd, env });
  return { code, stdout, stderr };
}

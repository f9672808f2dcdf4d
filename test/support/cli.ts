// Runs amphi's CLI in-process with captured output (the same `run` the executable calls).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/main.js";

/** What one CLI invocation printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The age identity of the example's secrets files (public on purpose: their values are placeholders). */
export const EXAMPLE_AGE_KEY = fileURLToPath(new URL("../fixtures/secrets/example-age-key.txt", import.meta.url));

/** Runs `amphi <args…>` with `cwd` as working directory. Unless `env` names an identity of its own (an empty
 * AMPHI_AGE_KEY_FILE: none), the example's identity is set, so copies of the example can be applied. */
export async function amphi(args: string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const withKey = "AMPHI_AGE_KEY" in env || "AMPHI_AGE_KEY_FILE" in env ? env : { ...env, AMPHI_AGE_KEY_FILE: EXAMPLE_AGE_KEY };
  const code = await run(args, { out: (t) => void (stdout += t), err: (t) => void (stderr += t), cwd, env: withKey });
  return { code, stdout, stderr };
}

/** A long-running command (`amphi dns`, `amphi xds`) started in-process. */
export interface Listening {
  /** The port its "listening on ADDR:PORT" line names. */
  port: number;
  /** Everything it wrote to stderr so far. */
  err(): string;
  /** Stops it (as SIGINT would) and resolves to its exit code. */
  stop(): Promise<number>;
}

/** Starts `amphi <command> <args…>` in-process and resolves once it says "listening on ADDR:PORT"; fails the
 * test when it exits before that. `cwd` (default: this process's) is where its state (.amphi/) goes: give each
 * test its own, so two test files running at once never share one. */
export async function startListening(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<Listening> {
  const ac = new AbortController();
  let err = "";
  let seen: (line: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (seen = resolve));
  const write = (t: string): void => {
    err += t;
    if (t.includes("listening on")) seen(t);
  };
  const done = run([command, ...args], { out: () => {}, err: write, cwd, env }, ac.signal);
  const line = await Promise.race([listening, done.then((code) => assert.fail(`amphi ${command} exited ${code}: ${err}`))]);
  return {
    port: Number(/listening on [0-9.]+:(\d+)/.exec(line)![1]),
    err: () => err,
    stop: async () => {
      ac.abort();
      return done;
    },
  };
}

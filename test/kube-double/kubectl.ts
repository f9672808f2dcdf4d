// Runs the real kubectl binary for the kube-double tests. Tests skip (with the reason) when kubectl
// is missing, except under CI=true, where a missing kubectl is a failure.
import { spawnPiped } from "../../src/adapters/process/spawn.js";
import { existsSync } from "node:fs";
import type { TempKubeconfig } from "../support/kubeconfig.js";

/** The kubectl binary the tests drive (KUBECTL overrides). */
export const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";

/** `skip` option for node:test: a reason when kubectl is missing outside CI, else false. */
export function skipWithoutKubectl(): string | false {
  if (existsSync(KUBECTL)) return false;
  return process.env.CI === "true" ? false : `${KUBECTL} is not installed`;
}

/** What one kubectl run printed, its exit code and how long it took. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `kubectl --kubeconfig … --context … <args>` with `input` on stdin. Never rejects for a
 * non-zero exit; a spawn failure (kubectl missing) rejects. */
export function kubectl(
  kc: TempKubeconfig,
  args: string[],
  opts: { input?: string; context?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const started = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ...kc.env };
  delete env.KUBERNETES_SERVICE_HOST; // never fall back to an in-cluster config
  return new Promise((resolve, reject) => {
    const child = spawnPiped(KUBECTL, [...kc.args(opts.context), ...args], { env });
    let stdout = "";
    let stderr = "";
    // A safety net: kubectl exits by itself (its own --request-timeout and waits); 20 s was reached beside CPU hogs.
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${KUBECTL}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Math.round(performance.now() - started) });
    });
    child.stdin.on("error", () => {}); // kubectl may exit before reading its input (EPIPE): the exit code tells
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs kubectl and returns stdout; throws with stderr when it exits non-zero. */
export async function kubectlOk(kc: TempKubeconfig, args: string[], opts: { input?: string; context?: string } = {}): Promise<string> {
  const r = await kubectl(kc, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs kubectl with `-o json` appended and parses the output. */
export async function kubectlJson(kc: TempKubeconfig, args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await kubectlOk(kc, [...args, "-o", "json"])) as Record<string, unknown>;
}

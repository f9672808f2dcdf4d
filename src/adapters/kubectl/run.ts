// Spawns `kubectl --context <ctx> [--kubeconfig <file>] --request-timeout=<t> <args>` for one cluster: argv
// only (no shell), stdin piped (so an auth plugin can never wait on a prompt), stdout/stderr collected.
import { spawnPiped } from "../process/spawn.js";
import type { ClusterModel } from "../../model/index.js";
import { KubectlError, firstLines } from "./errors.js";

/** How amphi runs kubectl; shared by every call on every cluster. */
export interface KubectlOptions {
  /** The kubectl binary: a name looked up on PATH, or a path (default `kubectl`). */
  binary?: string;
  /** A kubeconfig file passed as `--kubeconfig`; without it kubectl uses KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | null;
  /** `--request-timeout` of every call (default `30s`): bounds each API request, not the whole call. */
  requestTimeout?: string;
  /** Environment of the kubectl processes (default: this process's, which carries KUBECONFIG). */
  env?: NodeJS.ProcessEnv;
  /** Called once per kubectl process started, with its arguments (benchmarks and tests count calls). */
  onSpawn?: (args: readonly string[]) => void;
}

/** What one kubectl process printed, and its exit code. */
export interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Per-call settings. */
export interface CallOptions {
  input?: string;
  signal?: AbortSignal;
  /** Kills the process after this long (default 10 minutes; per-request limits come from requestTimeout). */
  timeoutMs?: number;
}

const KILL_GRACE_MS = 2000;

/** The arguments selecting the cluster's context (and kubeconfig) with the request timeout, then `args`. */
export function kubectlArgs(cluster: ClusterModel, args: readonly string[], opts: KubectlOptions): string[] {
  const kubeconfig = opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : [];
  return ["--context", cluster.context, ...kubeconfig, `--request-timeout=${opts.requestTimeout ?? "30s"}`, ...args];
}

/** Runs kubectl for `cluster`. Resolves with the exit code, also a non-zero one; rejects with a KubectlError
 * when kubectl cannot be started (not installed), was aborted, or ran past `timeoutMs`. */
export function runKubectl(cluster: ClusterModel, args: readonly string[], opts: KubectlOptions, call: CallOptions = {}): Promise<KubectlRun> {
  const binary = opts.binary ?? "kubectl";
  const argv = kubectlArgs(cluster, args, opts);
  const what = `kubectl ${args.slice(0, 2).join(" ")}`;
  return new Promise((resolve, reject) => {
    if (call.signal?.aborted) return reject(new KubectlError(cluster, `${what} not started: cancelled`, ""));
    opts.onSpawn?.(argv);
    const child = spawnPiped(binary, argv, { env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stopped: string | null = null;
    const stop = (why: string): void => {
      if (stopped) return;
      stopped = why;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS).unref();
    };
    const onAbort = (): void => stop("cancelled");
    call.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => stop(`timed out after ${Math.round((call.timeoutMs ?? 600_000) / 1000)}s`), call.timeoutMs ?? 600_000);
    const done = (): void => {
      clearTimeout(timer);
      call.signal?.removeEventListener("abort", onAbort);
    };
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      done();
      reject(new KubectlError(cluster, spawnFailure(binary, e), ""));
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      const stderr = Buffer.concat(err).toString("utf8");
      if (stopped) return reject(new KubectlError(cluster, `${what} ${stopped}`, stderr));
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr });
    });
    // kubectl may exit before reading stdin (bad context): ignore the broken pipe, the exit code tells.
    child.stdin.on("error", () => {});
    child.stdin.end(call.input ?? "");
  });
}

/** Runs kubectl and returns stdout; a non-zero exit rejects with a KubectlError carrying stderr. */
export async function kubectlOk(cluster: ClusterModel, args: readonly string[], opts: KubectlOptions, call: CallOptions = {}): Promise<string> {
  const r = await runKubectl(cluster, args, opts, call);
  if (r.code !== 0) throw new KubectlError(cluster, `kubectl ${args.slice(0, 2).join(" ")} failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`, r.stderr);
  return r.stdout;
}

function spawnFailure(binary: string, e: NodeJS.ErrnoException): string {
  if (e.code !== "ENOENT") return `cannot run ${binary}: ${e.message}`;
  return binary.includes("/")
    ? `kubectl not found at ${binary}; install it or point amphi at the right path`
    : `${binary} not found on PATH; install it (https://kubernetes.io/docs/tasks/tools/) or add its directory to PATH`;
}

// The pods of amphi's Deployments, read and watched with kubectl: `kubectl get pods -l <amphi labels> -o json`
// per namespace the environment uses on the cluster, and `kubectl get pods … --watch -o json` as the trigger
// to read them again (the list is the state; a watch event only says "something changed", so no event
// bookkeeping can drift from what the API server holds). The PodSource port (ports/pods.ts) on kubectl.
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { LABELS, VERSION_ANNOTATION, compareStrings, type ClusterModel, type EnvironmentModel, type K8sObject, type PodInfo } from "../../model/index.js";
import type { PodSource, PodWatch } from "../../ports/pods.js";
import { CONTAINER_NAMES } from "../../runtimes/k8s/pod.js";
import { KubectlError, firstLines } from "./errors.js";
import { clusterNamespaces, managedSelector, parseList } from "./read.js";
import { kubectlArgs, runKubectl, type KubectlOptions } from "./run.js";

/** Every amphi pod of environment `env` on `cluster` in `namespaces`, sorted by namespace and name. Throws
 * a KubectlError naming the cluster when kubectl fails (a namespace that does not exist holds no pods). */
export async function listPods(cluster: ClusterModel, env: string, namespaces: readonly string[], opts: KubectlOptions, signal?: AbortSignal): Promise<PodInfo[]> {
  const lists = await Promise.all(
    namespaces.map(async (ns) => {
      const r = await runKubectl(cluster, ["get", "pods", "-n", ns, "-l", managedSelector(env), "-o", "json"], opts, { signal });
      if (r.code !== 0 && new RegExp(`namespaces "${ns}" not found`).test(r.stderr) && !/Forbidden/.test(r.stderr)) return [];
      if (r.code !== 0) throw new KubectlError(cluster, `kubectl get pods in namespace ${ns} failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`, r.stderr);
      return parseList(cluster, r.stdout).filter((o) => o.kind === "Pod").map((o) => podInfo(cluster.name, ns, o));
    }),
  );
  return lists.flat().sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name));
}

/** A Pod object as the pod sync sees it. Ready: condition `Ready` is `True` and no deletion has begun (a
 * terminating pod leaves the registry when its deletion starts, as it leaves a Service's endpoints). */
export function podInfo(cluster: string, namespace: string, o: K8sObject): PodInfo {
  const md = o.metadata as { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  const status = (o as { status?: { podIP?: string; conditions?: { type?: string; status?: string }[] } }).status ?? {};
  const containers = (o as { spec?: { containers?: { name?: string; image?: string }[] } }).spec?.containers ?? [];
  const ready = (status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True") && !md.deletionTimestamp;
  return {
    cluster,
    namespace: md.namespace ?? namespace,
    name: md.name,
    app: md.labels?.[LABELS.app] ?? "",
    env: md.labels?.[LABELS.env] ?? "",
    ip: status.podIP ?? "",
    ready,
    image: containers.find((c) => c.name === CONTAINER_NAMES.app)?.image ?? null,
    version: md.annotations?.[VERSION_ANNOTATION] || null,
  };
}

/** Options of a pod watch's restarts. */
export interface PodWatchOptions {
  /** First delay before restarting a watch that ended (default 200 ms); doubles up to maxBackoffMs (30 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Watches the pods of `env` on `cluster` in `namespaces`: one `kubectl get pods --watch` per namespace,
 * restarted with backoff when it ends (API server timeout, connection lost, kubectl failed). `onChange` is
 * called when a watch starts and on every output it prints; each failure goes to `onError`. */
export function watchPods(cluster: ClusterModel, env: string, namespaces: readonly string[], opts: KubectlOptions & PodWatchOptions, cb: { onChange(): void; onError(e: Error): void; signal: AbortSignal }): PodWatch {
  const abort = new AbortController();
  const signal = AbortSignal.any([abort.signal, cb.signal]);
  for (const ns of namespaces) void watchNamespace(cluster, env, ns, opts, cb, signal);
  return { stop: () => abort.abort() };
}

async function watchNamespace(cluster: ClusterModel, env: string, ns: string, opts: KubectlOptions & PodWatchOptions, cb: { onChange(): void; onError(e: Error): void }, signal: AbortSignal): Promise<void> {
  const minBackoff = opts.minBackoffMs ?? 200;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  let failures = 0;
  while (!signal.aborted) {
    const started = performance.now();
    // No request timeout for the watch itself: kubectl's default would end it after 30 s.
    const argv = kubectlArgs(cluster, ["get", "pods", "-n", ns, "-l", managedSelector(env), "--watch", "--output-watch-events", "-o", "json"], { ...opts, requestTimeout: "0" });
    const result = await runWatch(opts.binary ?? "kubectl", argv, opts.env ?? process.env, () => !signal.aborted && cb.onChange(), signal);
    if (signal.aborted) return;
    // A watch that ran a while ended normally (the API server closes watches after minutes): restart at once.
    failures = performance.now() - started > 10_000 ? 0 : failures + 1;
    if (failures > 0) {
      const cap = Math.min(maxBackoff, minBackoff * 2 ** Math.min(failures - 1, 20));
      cb.onError(new KubectlError(cluster, `kubectl get pods --watch in namespace ${ns} ended: ${result}; restarting in ${Math.round(cap)} ms`, ""));
      await delay(cap, undefined, { signal }).catch(() => {});
    }
  }
}

// Runs one watch process until it exits or the signal aborts; resolves with why it ended.
function runWatch(binary: string, argv: string[], env: NodeJS.ProcessEnv, onData: () => void, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(binary, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      return resolve((e as Error).message);
    }
    let stderr = "";
    const kill = (): void => void child.kill("SIGTERM");
    signal.addEventListener("abort", kill, { once: true });
    child.on("spawn", onData);
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-4000)));
    child.on("error", (e) => {
      signal.removeEventListener("abort", kill);
      resolve(e.message);
    });
    child.on("close", (code) => {
      signal.removeEventListener("abort", kill);
      resolve(firstLines(stderr) || `exit code ${code}`);
    });
  });
}

/** The PodSource port on kubectl: the environment's namespaces on each cluster (clusterNamespaces). */
export class KubectlPodSource implements PodSource {
  constructor(private readonly opts: KubectlOptions & PodWatchOptions) {}

  list(env: EnvironmentModel, cluster: ClusterModel, signal?: AbortSignal): Promise<PodInfo[]> {
    return listPods(cluster, env.name, clusterNamespaces(env, cluster.name), this.opts, signal);
  }

  watch(env: EnvironmentModel, cluster: ClusterModel, cb: { onChange(): void; onError(e: Error): void; signal: AbortSignal }): PodWatch {
    return watchPods(cluster, env.name, clusterNamespaces(env, cluster.name), this.opts, cb);
  }
}

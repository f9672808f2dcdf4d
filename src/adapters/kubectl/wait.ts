// Waits for applied Deployments to become healthy: polls `kubectl get deployments.apps -l <amphi's labels>
// -o json` (one call per namespace and poll) with a growing delay, logs each Deployment's progress when it changes, and
// stops at the first degraded one, when all are healthy, or at the timeout.
import { setTimeout as sleep } from "node:timers/promises";
import { LABELS, type ClusterModel, type K8sObject } from "../../model/index.js";
import { deploymentHealth, type HealthResult } from "../../health/index.js";
import { KubectlError, firstLines } from "./errors.js";
import { objectId } from "./output.js";
import { parseList } from "./read.js";
import { runKubectl, type KubectlOptions } from "./run.js";

/** Options of {@link waitHealthy}. */
export interface WaitOptions extends KubectlOptions {
  /** Give up after this long: what is not healthy then is reported degraded. Also the time `Available=False`
   * may last before a Deployment counts as degraded. */
  timeoutMs: number;
  /** Clock for health rules (condition times); the deadline itself runs on the monotonic clock. */
  now: () => Date;
  poll: { initialMs: number; maxMs: number };
  signal?: AbortSignal;
  log(line: string): void;
}

/** The final health of one Deployment (`Kind/namespace/name`). */
export interface DeploymentVerdict extends HealthResult {
  object: string;
}

/** Polls until every Deployment is healthy, one is degraded, or the timeout passes; returns the last verdict
 * of each. A Deployment still not healthy at the timeout is `degraded` ("not healthy after …"). */
export async function waitHealthy(cluster: ClusterModel, deployments: K8sObject[], opts: WaitOptions): Promise<DeploymentVerdict[]> {
  if (deployments.length === 0) return [];
  const started = performance.now();
  const label = labeller(deployments);
  const said = new Map<string, string>();
  let delay = opts.poll.initialMs;
  let lastError: string | null = null;
  for (;;) {
    let verdicts: DeploymentVerdict[] | null = null;
    try {
      const live = await readDeployments(cluster, deployments, opts);
      const now = opts.now();
      verdicts = deployments.map((d) => ({ object: objectId(d), ...deploymentHealth(live.get(objectId(d)), now, { progressTimeoutMs: opts.timeoutMs }) }));
      lastError = null;
    } catch (e) {
      if (!(e instanceof KubectlError) || opts.signal?.aborted) throw e;
      if (e.message !== lastError) opts.log(`reading rollout status failed (will retry): ${e.message}`);
      lastError = e.message;
    }
    for (const [i, v] of (verdicts ?? []).entries()) {
      const line = `${label(deployments[i]!)}: ${v.health === "healthy" ? "healthy, " : ""}${v.message}`;
      if (said.get(v.object) !== line) opts.log(line);
      said.set(v.object, line);
    }
    if (verdicts && (verdicts.every((v) => v.health === "healthy") || verdicts.some((v) => v.health === "degraded"))) return verdicts;
    const elapsed = performance.now() - started;
    if (elapsed >= opts.timeoutMs) return timedOut(deployments, verdicts, lastError, opts.timeoutMs);
    await pause(Math.min(delay, opts.timeoutMs - elapsed), opts.signal);
    delay = Math.min(delay * 1.6, opts.poll.maxMs);
  }
}

function timedOut(deployments: K8sObject[], verdicts: DeploymentVerdict[] | null, lastError: string | null, timeoutMs: number): DeploymentVerdict[] {
  const after = `not healthy after ${formatDuration(timeoutMs)}`;
  if (!verdicts) return deployments.map((d) => ({ object: objectId(d), health: "unknown", message: `${after}: ${lastError ?? "status not read"}` }));
  return verdicts.map((v) => (v.health === "healthy" ? v : { ...v, health: "degraded", message: `${after} (${v.health}: ${v.message})` }));
}

/** The live Deployments by `Kind/namespace/name`; absent ones are missing from the map. One label-selected
 * LIST per namespace: kubectl fetches named objects one GET at a time under its client-side rate limit
 * (5/s after a burst of 10), which made a poll of 180 Deployments take 34 s. */
async function readDeployments(cluster: ClusterModel, deployments: K8sObject[], opts: WaitOptions): Promise<Map<string, K8sObject>> {
  const namespaces = [...new Set(deployments.map((d) => d.metadata.namespace ?? cluster.namespace))];
  const selector = commonSelector(deployments);
  const wanted = new Set(deployments.map(objectId));
  const live = new Map<string, K8sObject>();
  for (const ns of namespaces) {
    const r = await runKubectl(cluster, ["get", "deployments.apps", "-n", ns, ...(selector ? ["-l", selector] : []), "-o", "json"], opts, { signal: opts.signal });
    if (r.code !== 0) throw new KubectlError(cluster, `kubectl get deployments in ${ns} failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`, r.stderr);
    for (const obj of parseList(cluster, r.stdout)) if (wanted.has(objectId(obj))) live.set(objectId(obj), obj);
  }
  return live;
}

/** amphi's managed-by label, and the env label when every Deployment has the same: narrows the LIST to
 * amphi's objects of the environment. No selector when some Deployment lacks the labels. */
function commonSelector(deployments: K8sObject[]): string | null {
  const labels = deployments.map((d) => d.metadata.labels ?? {});
  if (!labels.every((l) => l[LABELS.managedBy] === "amphi")) return null;
  const envs = new Set(labels.map((l) => l[LABELS.env]));
  const env = envs.size === 1 ? [...envs][0] : undefined;
  return env ? `${LABELS.managedBy}=amphi,${LABELS.env}=${env}` : `${LABELS.managedBy}=amphi`;
}

// Progress lines name a Deployment by its name alone when the batch uses one namespace (the usual case).
function labeller(deployments: K8sObject[]): (d: K8sObject) => string {
  const namespaces = new Set(deployments.map((d) => d.metadata.namespace));
  return namespaces.size <= 1 ? (d) => d.metadata.name : (d) => `${d.metadata.namespace}/${d.metadata.name}`;
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(Math.max(0, ms), undefined, { signal });
  } catch {
    throw new Error("cancelled while waiting for the rollout");
  }
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;
}

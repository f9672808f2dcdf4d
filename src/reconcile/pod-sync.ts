// One pod sync of one environment: read the pods of its clusters (PodSource) and amphi's pod instances in
// Consul (PodCatalog), decide (src/pod-sync, pure), write the registrations and remove the ones no ready pod
// stands for. Run once per reconcile cycle (and by `apply`), and per cluster on every pod change while `amphi
// serve` watches (pod-watch.ts). No decisions here.
import { forEachLimit, type AppModel, type EnvironmentModel, type PodInfo } from "../model/index.js";
import type { PodCatalog, PodSource } from "../ports/pods.js";
import { decidePodSync, formatPodStep, type PodSyncPlan, type PodSyncStep } from "../pod-sync/index.js";

/** What a sync needs. */
export interface PodSyncDeps {
  pods: PodSource;
  catalog: PodCatalog;
}

/** What a sync saw and did. */
export interface PodSyncResult {
  plan: PodSyncPlan;
  /** Clusters that could not be read, with why (their registrations were left alone). */
  unreadable: { cluster: string; reason: string }[];
  /** Steps written, and steps that failed with why. */
  done: PodSyncStep[];
  failed: { step: PodSyncStep; error: string }[];
}

/** Options of a sync. */
export interface PodSyncOptions {
  /** Clusters to sync (default: every cluster of the environment, and registrations of clusters it no longer
   * has are removed). */
  clusters?: readonly string[];
  /** Write the steps (default true); false only decides (drift). */
  apply?: boolean;
  signal?: AbortSignal;
}

/** Reads, decides and (unless `apply: false`) writes. Rejects when the registry cannot be read (nothing is
 * decided without knowing what is there); a cluster that cannot be read is reported, not fatal. */
export async function syncPods(deps: PodSyncDeps, env: EnvironmentModel, apps: readonly AppModel[], opts: PodSyncOptions = {}): Promise<PodSyncResult> {
  const scope = env.clusters.filter((c) => !opts.clusters || opts.clusters.includes(c.name));
  type Read = { cluster: string; pods: PodInfo[] } | { cluster: string; reason: string };
  const reads = await Promise.all(
    scope.map(async (c): Promise<Read> => {
      try {
        return { cluster: c.name, pods: await deps.pods.list(env, c, opts.signal) };
      } catch (e) {
        return { cluster: c.name, reason: (e as Error).message };
      }
    }),
  );
  const current = await deps.catalog.read(env, opts.signal);
  const seen = reads.flatMap((r) => ("pods" in r ? [r] : []));
  const unreadable = reads.flatMap((r) => ("reason" in r ? [{ cluster: r.cluster, reason: r.reason }] : []));
  const plan = decidePodSync({ env, apps, seen, unreadable: unreadable.map((u) => u.cluster), current, pruneRemovedClusters: !opts.clusters });
  const result: PodSyncResult = { plan, unreadable, done: [], failed: [] };
  if (opts.apply === false) return result;
  await forEachLimit(plan.steps, 8, async (step) => {
    try {
      if (step.op === "register") await deps.catalog.register(step.registration, opts.signal);
      else await deps.catalog.deregister(step.registration, opts.signal);
      result.done.push(step);
    } catch (e) {
      result.failed.push({ step, error: (e as Error).message });
    }
  });
  return result;
}

/** Log lines of a sync: one per step written or failed, one per unreadable cluster. */
export function formatPodSync(env: string, r: PodSyncResult): string[] {
  return [
    ...r.done.map((s) => `amphi: ${env}: pods: ${formatPodStep(s)}`),
    ...r.failed.map((f) => `amphi: ${env}: pods: ${formatPodStep(f.step)} FAILED: ${f.error}`),
    ...r.unreadable.map((u) => `amphi: ${env}: pods: registrations of cluster ${u.cluster} kept (not read: ${u.reason})`),
  ];
}

// The pod sync's decision: the pods seen on each cluster and amphi's pod registrations in Consul → which
// registrations to write and which to remove, each with why. Pure; the I/O is in the adapters (kubectl,
// consul) and the sequencing in src/reconcile/pod-sync.ts.
import { canonicalJson, type AppModel, type EnvironmentModel, type PodInfo, type PodRegistration } from "../model/index.js";
import { compareRegistrations, isOwnPodRegistration, podRegistrations } from "./instances.js";

/** What one sync looks at. */
export interface PodSyncInput {
  env: EnvironmentModel;
  apps: readonly AppModel[];
  /** The clusters read, with every amphi pod of the environment on each (ready or not). */
  seen: readonly { cluster: string; pods: readonly PodInfo[] }[];
  /** Clusters that could not be read: their registrations are left as they are (never "all gone"). */
  unreadable: readonly string[];
  /** Every pod registration read from Consul (others' too: only amphi's own of `env` are considered). */
  current: readonly PodRegistration[];
  /** Also remove registrations of clusters the environment no longer has (a whole cycle does; a watch of
   * one cluster does not). */
  pruneRemovedClusters: boolean;
}

/** What a registration differs in from what its pod calls for. */
export type PodField = "address" | "port" | "version" | "check" | "labels";

/** One step of a sync. */
export type PodSyncStep =
  | { op: "register"; registration: PodRegistration; current: PodRegistration | null; fields: PodField[] }
  | { op: "deregister"; registration: PodRegistration; reason: string };

/** The steps of a sync (registers first, both sorted by node then ID) and the clusters left alone. */
export interface PodSyncPlan {
  steps: PodSyncStep[];
  /** Unreadable clusters whose registrations were kept, sorted. */
  kept: string[];
}

/** Decides a sync (see {@link PodSyncInput}). */
export function decidePodSync(input: PodSyncInput): PodSyncPlan {
  const seen = new Set(input.seen.map((s) => s.cluster));
  const unreadable = new Set(input.unreadable.filter((c) => !seen.has(c)));
  const inEnv = new Set(input.env.clusters.map((c) => c.name));
  const pods = input.seen.flatMap((s) => s.pods.filter((p) => p.cluster === s.cluster));
  const want = podRegistrations(input.env, input.apps, pods);
  const own = input.current.filter((r) => isOwnPodRegistration(r, input.env.name));
  const have = new Map(own.map((r) => [`${r.node}\u0000${r.id}`, r]));
  const register: PodSyncStep[] = [];
  for (const w of want) {
    const cur = have.get(`${w.node}\u0000${w.id}`) ?? null;
    const fields = cur ? differences(w, cur) : [];
    if (!cur || fields.length > 0) register.push({ op: "register", registration: w, current: cur, fields });
  }
  const wanted = new Set(want.map((w) => `${w.node}\u0000${w.id}`));
  const byPod = new Map(pods.map((p) => [`${p.cluster}/${p.namespace}/${p.name}`, p]));
  const deregister: PodSyncStep[] = [];
  for (const r of own) {
    if (wanted.has(`${r.node}\u0000${r.id}`) || unreadable.has(r.cluster)) continue;
    if (seen.has(r.cluster)) deregister.push({ op: "deregister", registration: r, reason: whyNot(input, r, byPod.get(`${r.cluster}/${r.namespace}/${r.pod}`)) });
    else if (input.pruneRemovedClusters && !inEnv.has(r.cluster)) {
      deregister.push({ op: "deregister", registration: r, reason: `cluster ${r.cluster} is no longer in environment ${input.env.name}` });
    }
  }
  const by = (a: PodSyncStep, b: PodSyncStep) => compareRegistrations(a.registration, b.registration);
  const kept = [...unreadable].filter((c) => own.some((r) => r.cluster === c)).sort();
  return { steps: [...register.sort(by), ...deregister.sort(by)], kept };
}

/** What differs between a wanted registration and the one in Consul. */
export function differences(want: PodRegistration, cur: PodRegistration): PodField[] {
  const out: PodField[] = [];
  if (cur.address !== want.address) out.push("address");
  if (cur.port !== want.port) out.push("port");
  if (cur.version !== want.version) out.push("version");
  if (cur.check !== "passing") out.push("check");
  // The rest of what it is labelled with (the version, already named, left out).
  const labels = (r: PodRegistration) => {
    const { "amphi-version": _, ...meta } = r.meta;
    return canonicalJson({ service: r.service, tags: r.tags.filter((t) => !t.startsWith("version:")).sort(), meta });
  };
  if (labels(cur) !== labels(want)) out.push("labels");
  return out;
}

// Why a registration of a cluster that was read is no longer wanted.
function whyNot(input: PodSyncInput, r: PodRegistration, pod: PodInfo | undefined): string {
  const name = `pod ${r.namespace}/${r.pod} on ${r.cluster}`;
  if (!pod) return `${name} is gone`;
  if (!pod.ready) return `${name} is not ready`;
  if (!pod.ip) return `${name} has no IP`;
  if (!input.apps.some((a) => a.name === pod.app)) return `app ${pod.app} is no longer in the config`;
  return `${name} no longer serves ${r.service} on port ${r.port}`;
}

/** One line per step: `register    billing/shop.billing-7d9f-x2 10.1.0.7:9100 version 2.4.0 (new)`. */
export function formatPodStep(s: PodSyncStep): string {
  const r = s.registration;
  const what = `${r.service}/${r.id} ${r.address}:${r.port}`;
  if (s.op === "deregister") return `deregister  ${what}: ${s.reason}`;
  return `register    ${what} version ${r.version} (${s.current ? `changed: ${s.fields.join(", ")}` : "new"})`;
}

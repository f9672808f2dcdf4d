// Registry drift of pod instances: what a pod sync would change, as drift items — a ready pod missing from
// Consul, a registration of a pod that is gone or not ready, a wrong address, port or version, a check that
// is not passing. Pure; the items go in the app's row on its cluster.
import type { PodSyncPlan, PodSyncStep } from "../pod-sync/index.js";
import { compareStrings } from "../model/index.js";
import { REGISTRY_DRIFT_KINDS, type RegistryDrift, type RegistryDriftKind } from "./registry.js";

/** The drift items of a pod sync's plan, sorted by service, ID, then kind (as registryDrift sorts). */
export function podRegistryDrift(plan: PodSyncPlan): RegistryDrift[] {
  return plan.steps.flatMap(items).sort((a, b) => compareStrings(a.service, b.service) || compareStrings(a.id, b.id) || REGISTRY_DRIFT_KINDS.indexOf(a.kind) - REGISTRY_DRIFT_KINDS.indexOf(b.kind));
}

function items(s: PodSyncStep): RegistryDrift[] {
  const r = s.registration;
  const one = (kind: RegistryDriftKind, detail: string): RegistryDrift => ({
    kind, service: r.service, id: r.id, host: "", detail, row: { app: r.app, runtime: "k8s", target: r.cluster },
  });
  const pod = `pod ${r.namespace}/${r.pod}`;
  if (s.op === "deregister") return [one("unexpected", `registered in Consul (${r.address}:${r.port}) but ${s.reason}`)];
  const cur = s.current;
  if (!cur) return [one("missing", `${pod} is ready but not registered in Consul (want ${r.address}:${r.port})`)];
  const out: RegistryDrift[] = [];
  if (s.fields.includes("address")) out.push(one("address", `address ${cur.address || "(none)"} in Consul, ${pod} has ${r.address}`));
  if (s.fields.includes("port")) out.push(one("port", `port ${cur.port} in Consul, want ${r.port}`));
  if (s.fields.includes("version")) out.push(one("version", `version ${cur.version || "(none)"} in Consul, ${pod} runs ${r.version}`));
  if (s.fields.includes("check") && cur.check !== "passing") out.push(one(cur.check, `check is ${cur.check} in Consul, ${pod} is ready`));
  return out;
}

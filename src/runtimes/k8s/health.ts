// Health of live Kubernetes objects, in the spirit of Argo CD's gitops-engine and kstatus: a Deployment is
// healthy once the controller has seen its latest generation and every desired replica is updated, ready and
// available with no old ones left; degraded when the controller gave up (ProgressDeadlineExceeded) or the
// Deployment has been unavailable for longer than the caller's timeout; progressing in between.
import { VERSION_ANNOTATION, imageTag, type HealthResult, type Json, type K8sObject } from "../../model/index.js";
import { CONTAINER_NAMES } from "./pod.js";

/** Options of {@link deploymentHealth}. */
export interface DeploymentHealthOptions {
  /** How long `Available=False` may last before the Deployment counts as degraded. */
  progressTimeoutMs: number;
}

type Obj = { [key: string]: Json | undefined };

/** The health of a live Deployment (undefined: it does not exist) at time `now`. */
export function deploymentHealth(obj: K8sObject | undefined, now: Date, opts: DeploymentHealthOptions): HealthResult {
  if (!obj) return { health: "missing", message: "not found" };
  const spec = field(obj, "spec");
  const status = field(obj, "status");
  if (spec["paused"] === true) return { health: "degraded", message: "rollout is paused (spec.paused)" };
  const generation = num(obj.metadata["generation"] as Json | undefined);
  const observed = num(status["observedGeneration"]);
  if (observed < generation) {
    return { health: "progressing", message: `waiting for the controller to observe generation ${generation} (seen: ${observed || "none"})` };
  }
  const progressing = condition(status, "Progressing");
  if (progressing?.["reason"] === "ProgressDeadlineExceeded") {
    return { health: "degraded", message: `exceeded its progress deadline${detail(progressing)}` };
  }
  const available = condition(status, "Available");
  const since = available?.["status"] === "False" ? Date.parse(String(available["lastTransitionTime"] ?? "")) : NaN;
  if (Number.isFinite(since) && now.getTime() - since > opts.progressTimeoutMs) {
    return { health: "degraded", message: `unavailable for ${Math.round((now.getTime() - since) / 1000)}s${detail(available!)}` };
  }
  return replicaHealth(spec, status);
}

function replicaHealth(spec: Obj, status: Obj): HealthResult {
  const desired = spec["replicas"] === undefined ? 1 : num(spec["replicas"]);
  const total = num(status["replicas"]);
  const updated = num(status["updatedReplicas"]);
  const ready = num(status["readyReplicas"]);
  const available = num(status["availableReplicas"]);
  const counts = `${updated}/${desired} updated, ${ready} ready, ${available} available`;
  if (updated < desired) return { health: "progressing", message: counts };
  if (total > updated) return { health: "progressing", message: `${counts}, ${total - updated} old pending termination` };
  if (ready < updated || available < updated) return { health: "progressing", message: counts };
  return { health: "healthy", message: `${available}/${desired} available` };
}

/** The health of any live object amphi renders: Deployments by their rollout, everything else (Service,
 * ConfigMap) is healthy when it exists. */
export function objectHealth(kind: string, obj: K8sObject | undefined, now: Date, opts: DeploymentHealthOptions): HealthResult {
  if (kind === "Deployment") return deploymentHealth(obj, now, opts);
  return obj ? { health: "healthy", message: "exists" } : { health: "missing", message: "not found" };
}

function field(obj: Obj, key: string): Obj {
  const v = obj[key];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
}

function num(v: Json | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function condition(status: Obj, type: string): Obj | undefined {
  const list = status["conditions"];
  if (!Array.isArray(list)) return undefined;
  const found = list.find((c) => typeof c === "object" && c !== null && !Array.isArray(c) && c["type"] === type);
  return found as Obj | undefined;
}

function detail(cond: Obj): string {
  const reason = typeof cond["reason"] === "string" ? cond["reason"] : "";
  const message = typeof cond["message"] === "string" ? cond["message"] : "";
  return message ? `: ${message}` : reason ? `: ${reason}` : "";
}

/** The version a live Deployment rolls out: its pod template's `amphi.dev/version` annotation, else the tag of
 * its app container's image (as the pod sync reads a pod's version); null for other kinds. */
export function deploymentVersion(obj: K8sObject): string | null {
  if (obj.kind !== "Deployment") return null;
  const template = field(field(obj, "spec"), "template");
  const annotations = field(template, "metadata")["annotations"];
  const annotated = typeof annotations === "object" && annotations !== null && !Array.isArray(annotations) ? annotations[VERSION_ANNOTATION] : undefined;
  if (typeof annotated === "string" && annotated !== "") return annotated;
  const containers = field(template, "spec")["containers"];
  if (!Array.isArray(containers)) return null;
  const app = containers.find((c) => typeof c === "object" && c !== null && !Array.isArray(c) && c["name"] === CONTAINER_NAMES.app);
  const image = app && typeof app === "object" && !Array.isArray(app) ? app["image"] : undefined;
  return typeof image === "string" && image !== "" ? imageTag(image) : null;
}

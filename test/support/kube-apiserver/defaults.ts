// Defaulting as the real apiserver does it for the fields a diff must learn to ignore: a Deployment
// gets strategy, revisionHistoryLimit, progressDeadlineSeconds and pod/container defaults; a Service
// gets type, clusterIP(s), sessionAffinity, ipFamilies and ports' protocol and targetPort; probes
// get their thresholds, period, timeout and HTTP scheme. Only absent fields are filled, except that
// resource quantities are rewritten in canonical form ("0.5" → "500m"), as the apiserver does.
import { isObj, type Obj } from "./fieldset.js";
import { canonicalQuantity } from "./quantity.js";

function fill(obj: Obj, key: string, value: unknown): void {
  if (obj[key] === undefined) obj[key] = structuredClone(value);
}

function child(obj: Obj, key: string): Obj {
  if (!isObj(obj[key])) obj[key] = {};
  return obj[key] as Obj;
}

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  fill(p, "timeoutSeconds", 1);
  fill(p, "periodSeconds", 10);
  fill(p, "successThreshold", 1);
  fill(p, "failureThreshold", 3);
  if (isObj(p.httpGet)) fill(p.httpGet, "scheme", "HTTP");
}

function canonicalResources(r: unknown): void {
  if (!isObj(r)) return;
  for (const key of ["limits", "requests"]) {
    const list = r[key];
    if (isObj(list)) for (const [name, q] of Object.entries(list)) list[name] = canonicalQuantity(q);
  }
}

function defaultContainer(c: Obj): void {
  for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) defaultProbe(c[probe]);
  canonicalResources(c.resources);
  fill(c, "terminationMessagePath", "/dev/termination-log");
  fill(c, "terminationMessagePolicy", "File");
  const image = typeof c.image === "string" ? c.image : "";
  const tag = image.includes("@") ? "digest" : (image.split("/").at(-1) ?? "").split(":")[1];
  fill(c, "imagePullPolicy", tag === undefined || tag === "latest" ? "Always" : "IfNotPresent");
  fill(c, "resources", {});
  for (const p of Array.isArray(c.ports) ? c.ports.filter(isObj) : []) fill(p, "protocol", "TCP");
  for (const e of Array.isArray(c.env) ? c.env.filter(isObj) : []) {
    if (isObj(e.valueFrom) && isObj(e.valueFrom.fieldRef)) fill(e.valueFrom.fieldRef, "apiVersion", "v1");
  }
}

/** Pod spec defaults (also used inside Deployment templates). */
export function defaultPodSpec(spec: Obj): void {
  fill(spec, "restartPolicy", "Always");
  fill(spec, "terminationGracePeriodSeconds", 30);
  fill(spec, "dnsPolicy", "ClusterFirst");
  fill(spec, "securityContext", {});
  fill(spec, "schedulerName", "default-scheduler");
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (Array.isArray(list)) list.filter(isObj).forEach(defaultContainer);
  }
}

function defaultDeployment(obj: Obj): void {
  const spec = child(obj, "spec");
  fill(spec, "replicas", 1);
  fill(spec, "revisionHistoryLimit", 10);
  fill(spec, "progressDeadlineSeconds", 600);
  const strategy = child(spec, "strategy");
  fill(strategy, "type", "RollingUpdate");
  if (strategy.type === "RollingUpdate") fill(strategy, "rollingUpdate", { maxUnavailable: "25%", maxSurge: "25%" });
  const template = child(spec, "template");
  fill(child(template, "metadata"), "creationTimestamp", null);
  defaultPodSpec(child(template, "spec"));
}

function defaultService(obj: Obj, allocateIP: () => string): void {
  const spec = child(obj, "spec");
  fill(spec, "type", "ClusterIP");
  if (spec.type !== "ExternalName") {
    fill(spec, "clusterIP", allocateIP());
    fill(spec, "clusterIPs", spec.clusterIP === "None" ? ["None"] : [spec.clusterIP]);
    fill(spec, "ipFamilies", ["IPv4"]);
    fill(spec, "ipFamilyPolicy", "SingleStack");
    fill(spec, "internalTrafficPolicy", "Cluster");
  }
  fill(spec, "sessionAffinity", "None");
  for (const p of Array.isArray(spec.ports) ? spec.ports.filter(isObj) : []) {
    fill(p, "protocol", "TCP");
    fill(p, "targetPort", p.port);
  }
  fill(obj, "status", { loadBalancer: {} });
}

/** Fills server defaults into `obj` in place. `allocateIP` hands out a new Service cluster IP. */
export function applyDefaults(obj: Obj, allocateIP: () => string): void {
  const md = child(obj, "metadata");
  switch (obj.kind) {
    case "Deployment":
      defaultDeployment(obj);
      fill(obj, "status", {});
      break;
    case "Service":
      defaultService(obj, allocateIP);
      break;
    case "Namespace":
      fill(child(md, "labels"), "kubernetes.io/metadata.name", md.name);
      fill(child(obj, "spec"), "finalizers", ["kubernetes"]);
      fill(child(obj, "status"), "phase", "Active");
      break;
    case "Secret":
      fill(obj, "type", "Opaque");
      break;
    case "Pod":
      defaultPodSpec(child(obj, "spec"));
      fill(child(obj, "status"), "phase", "Pending");
      break;
  }
}

// The k8s runtime: Kubernetes objects in a cluster, applied server-side.
import type { FieldChange, IgnoreRule, Json, K8sObject } from "../../model/index.js";
import { compareJson, type CompareOptions } from "../../compare/compare.js";
import { asJson } from "../../compare/options.js";
import { pointerMatcher, type Segment } from "../../compare/paths.js";
import { sameQuantity } from "../../compare/quantity.js";
import { k8sSecretNames, k8sSecretPredicate } from "../../compare/redact.js";
import { k8sFiles } from "./files.js";
import { deploymentVersion, objectHealth } from "./health.js";
import { compareK8sSteps } from "./order.js";
import { renderK8s } from "./render.js";
import { k8sTasks } from "./tasks.js";
import { k8sSecrets } from "./secrets.js";
import { isObj, isStringMap, nonEmpty } from "../check.js";
import type { ResourceOf, RuntimeHooks } from "../types.js";

export const k8s: RuntimeHooks<"k8s"> = {
  runtime: "k8s",
  target: { place: "cluster", noun: "cluster" },
  /** `Kind/namespace/name`, or `Kind/name` when cluster-scoped. */
  objectName: ({ object: { kind, metadata } }) => (metadata.namespace ? `${kind}/${metadata.namespace}/${metadata.name}` : `${kind}/${metadata.name}`),
  compare: (desired, actual, ignore) => compareK8s(desired, actual.object, ignore),
  report: {
    row: "k8s",
    missing: (step) => `not found in cluster ${step.target}`,
    unexpected: () => "labelled as amphi's but not desired (prune deletes it)",
    workload: (r) => r.object.kind === "Deployment",
    health: ({ desired, actual }, { now, progressTimeoutMs }) =>
      objectHealth((desired ?? actual)!.object.kind, actual?.object, now, { progressTimeoutMs }),
    version: (a) => deploymentVersion(a.object),
  },
  tasks: k8sTasks,
  plan: { compareSteps: compareK8sSteps },
  render: renderK8s,
  files: k8sFiles,
  secrets: k8sSecrets,
  actualFile: {
    payload: "object",
    check: (p, need) => {
      need("apiVersion", nonEmpty(p["apiVersion"]), "a non-empty string");
      need("kind", nonEmpty(p["kind"]), "a non-empty string");
      const meta = p["metadata"];
      need("metadata.name", isObj(meta) && nonEmpty(meta["name"]), "a non-empty string");
      if (isObj(meta) && meta["annotations"] !== undefined) need("metadata.annotations", isStringMap(meta["annotations"]), "a map of strings");
    },
  },
};

/** Fields the API server or other controllers write; never a change even if desired mentions them. */
const SERVER_FIELDS = [
  // Derived from the spec, whose fields are compared one by one: a change shows as those fields.
  "/metadata/annotations/amphi.dev~1spec-hash",
  "/status",
  "/metadata/managedFields",
  "/metadata/resourceVersion",
  "/metadata/uid",
  "/metadata/creationTimestamp",
  "/metadata/generation",
];

/** A Secret's values: compared through its secret-digest annotation (a keyed digest of the values), since the
 * desired side holds tokens and the live side (read masked) no values at all. */
const SECRET_DATA = ["/data", "/stringData"];

/** Named lists amphi owns in its Kubernetes objects: live elements amphi no longer wants are changes. */
const OWNED_LISTS: ReadonlySet<string> = new Set(["containers", "initContainers", "env", "ports"]);

/** Server-side-apply style: only what amphi sets is compared, minus ignored pointers; env values named in
 * the secret-env annotation (on either side, so a removed secret stays masked) are redacted. */
function compareK8s(desired: ResourceOf<"k8s">, live: K8sObject, ignore: readonly IgnoreRule[]): FieldChange[] {
  const kind = desired.object.kind;
  const pointers = [...SERVER_FIELDS, ...(kind === "Secret" ? SECRET_DATA : []), ...ignore.filter((r) => appliesTo(r, kind, desired.app)).flatMap((r) => r.jsonPointers)];
  const secretNames = [...k8sSecretNames(desired.object), ...k8sSecretNames(live)];
  const opts: CompareOptions = {
    mode: "subset",
    ownedLists: OWNED_LISTS,
    ignored: pointerMatcher(pointers),
    isSecret: k8sSecretPredicate(kind, secretNames),
    sameScalar: sameK8sScalar,
  };
  return compareJson(asJson(desired.object), asJson(live), opts);
}

/** The API server's own forms of values amphi wrote: `1` for `"1"` and back, and resource quantities in
 * canonical form (`0.5` → `"500m"`, `1024Mi` → `"1Gi"`) under `resources.requests` / `resources.limits`. */
function sameK8sScalar(d: Json | undefined, a: Json | undefined, segments: readonly Segment[]): boolean {
  const mixed = (typeof d === "number" && typeof a === "string") || (typeof d === "string" && typeof a === "number");
  if (mixed && String(d) === String(a)) return true;
  return underResources(segments) && sameQuantity(d, a);
}

function underResources(segments: readonly Segment[]): boolean {
  const n = segments.length;
  const [res, kind] = [segments[n - 3], segments[n - 2]];
  return !!res && "key" in res && res.key === "resources" && !!kind && "key" in kind && (kind.key === "requests" || kind.key === "limits");
}

/** Whether an ignore rule names this kind and (when it names one) this app. */
function appliesTo(rule: IgnoreRule, kind: string, app: string): boolean {
  return rule.kind === kind && (rule.app === null || rule.app === app);
}

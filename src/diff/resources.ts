// Per-runtime comparison of one desired resource with its actual counterpart: which fields count,
// which are ignored, which are secret, and what observed state adds (a stopped process).
import type { ActualResource, FieldChange, IgnoreRule, Json, K8sObject, Resource } from "../model/index.js";
import { compareJson, type CompareOptions } from "./compare.js";
import { pointerMatcher, type Segment } from "./paths.js";
import { sameQuantity } from "./quantity.js";
import { k8sSecretNames, k8sSecretPredicate, vmSecretPredicate } from "./redact.js";

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

/** Named lists amphi owns in its Kubernetes objects: live elements amphi no longer wants are changes. */
const OWNED_LISTS: ReadonlySet<string> = new Set(["containers", "initContainers", "env", "ports"]);

const NONE: ReadonlySet<string> = new Set();
const never = (): boolean => false;

/** The fields in which `actual` differs from `desired` (same key). Empty means unchanged. */
export function compareResource(desired: Resource, actual: ActualResource, ignore: readonly IgnoreRule[]): FieldChange[] {
  if (desired.runtime !== actual.runtime) return [{ path: "runtime", from: actual.runtime, to: desired.runtime }];
  switch (desired.runtime) {
    case "k8s":
      return compareK8s(desired, (actual as typeof desired).object, ignore);
    case "vm":
      return compareVm(desired, actual as typeof desired & ActualResource);
    case "capture":
      return compareCapture(desired, actual as typeof desired & ActualResource);
    case "consul":
      // The check's health (observed.check) is not compared: re-registering does not fix a failing
      // check. Health belongs to drift reports; only registration settings make a plan step.
      return compareJson(asJson(desired.registration), asJson((actual as typeof desired).registration), full(never));
  }
}

/** Server-side-apply style: only what amphi sets is compared, minus ignored pointers; env values named in
 * the secret-env annotation (on either side, so a removed secret stays masked) are redacted. */
function compareK8s(desired: Resource & { runtime: "k8s" }, live: K8sObject, ignore: readonly IgnoreRule[]): FieldChange[] {
  const kind = desired.object.kind;
  const pointers = [...SERVER_FIELDS, ...ignore.filter((r) => appliesTo(r, kind, desired.app)).flatMap((r) => r.jsonPointers)];
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

/** amphi owns the whole host record (what state.json says), so every field counts; a stopped process
 * is a change too (the step starts it). An `unknown` process state adds nothing. A record state.json
 * leaves open (an interrupted deploy, an app running unrecorded) is a change (the step redeploys). */
function compareVm(desired: Resource & { runtime: "vm" }, actual: ActualResource & { runtime: "vm" }): FieldChange[] {
  const open = actual.observed?.record;
  const record: FieldChange[] = open ? [{ path: "record", from: open.detail, to: "recorded" }] : [];
  // an unrecorded app's instance is only what the host shows: its fields say nothing
  if (open?.state === "unrecorded") return record;
  const secret = vmSecretPredicate([...desired.instance.secretEnv, ...(actual.instance.secretEnv ?? [])]);
  const fields = [...record, ...compareJson(asJson(desired.instance), asJson(actual.instance), full(secret))];
  if (actual.observed?.process === "stopped") fields.push({ path: "process", from: "stopped", to: "running" });
  return fields;
}

/** The recorded rules (fragment and hooks) against the desired ones, plus what was seen on the host: live
 * rules that differ from the record (`capture drifted→present`) and recorded mesh-dns that does not run
 * (`meshDns stopped→running`) are changes too (the capture task rewrites the rules and starts mesh-dns). */
function compareCapture(desired: Resource & { runtime: "capture" }, actual: ActualResource & { runtime: "capture" }): FieldChange[] {
  const { fragment, hooks } = desired.capture;
  const live = actual.capture;
  const fields = compareJson(asJson({ fragment, hooks }), asJson({ fragment: live.fragment, hooks: live.hooks }), full(never));
  if (actual.observed?.capture === "drifted") fields.push({ path: "capture", from: "drifted", to: "present" });
  if (actual.observed?.meshDns === "stopped") fields.push({ path: "meshDns", from: "stopped", to: "running" });
  return fields;
}

function full(isSecret: (segments: readonly Segment[]) => boolean): CompareOptions {
  return { mode: "full", ownedLists: NONE, ignored: never, isSecret };
}

/** Model records are plain JSON by construction; TypeScript cannot see interfaces as index signatures. */
function asJson(value: unknown): Json {
  return value as Json;
}

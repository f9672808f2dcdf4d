// The JSON format of a plan: a stable, documented shape for CI and other tools.
import type { FieldChange, Json, Plan, PlanStep, UnknownItem } from "../model/index.js";

/**
 * Formats a plan as JSON (2-space indent, trailing newline). Keys always appear in this order:
 *
 * ```jsonc
 * {
 *   "apiVersion": "amphi.dev/v1",
 *   "kind": "Plan",
 *   "env": "prod",                       // environment name
 *   "revision": "3f1a…" | null,          // config commit the plan was made from
 *   "summary": { "create": 1, "update": 2, "delete": 0, "unchanged": 12, "unknown": 1 },
 *   "steps": [{                          // in apply order: wave, runtime, kind, key
 *     "wave": 1,                         // 1 + the highest wave of the app's dependsOn; deletes come last
 *     "runtime": "k8s" | "vm" | "capture" | "consul",
 *     "target": "eu1" | "legacy/vm-2",   // cluster, or hostGroup/host
 *     "app": "user" | null,              // null for a host's capture rules
 *     "op": "create" | "update" | "delete",
 *     "key": "k8s/eu1/Deployment/shop/user",
 *     "object": "Deployment/shop/user",  // Kind/ns/name, the app (vm), "iptables" (capture), the service ID (consul)
 *     "fields": [{ "path": "spec.template.spec.containers[name=app].image", "from": "…", "to": "…" }]
 *   }],                                  // fields: updates only; from = actual, to = desired, full values;
 *                                        // a side that does not exist is left out; secrets read "(secret)"
 *   "unknown": [{ "key": "…", "runtime": "vm", "target": "legacy/vm-3", "app": "billing",
 *                 "reason": "host unreachable: …" }]   // not compared: the target could not be read
 * }
 * ```
 */
export function formatPlanJson(plan: Plan): string {
  const doc = {
    apiVersion: "amphi.dev/v1",
    kind: "Plan",
    env: plan.env,
    revision: plan.revision,
    summary: {
      create: plan.summary.create,
      update: plan.summary.update,
      delete: plan.summary.delete,
      unchanged: plan.summary.unchanged,
      unknown: plan.summary.unknown,
    },
    steps: plan.steps.map(stepJson),
    unknown: plan.unknown.map(unknownJson),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function stepJson(s: PlanStep) {
  const { wave, runtime, target, app, op, key, object } = s;
  return { wave, runtime, target, app, op, key, object, fields: s.fields.map(fieldJson) };
}

function fieldJson(f: FieldChange): { path: string; from?: Json; to?: Json } {
  const out: { path: string; from?: Json; to?: Json } = { path: f.path };
  if (f.from !== undefined) out.from = f.from;
  if (f.to !== undefined) out.to = f.to;
  return out;
}

function unknownJson(u: UnknownItem) {
  const { key, runtime, target, app, reason } = u;
  return { key, runtime, target, app, reason };
}

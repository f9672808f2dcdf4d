// The k8s runtime's tasks: Kubernetes steps are batched per cluster, wave and direction, because kubectl
// applies (or deletes) a batch at once.
import type { TaskHooks } from "../types.js";
import { withoutIgnored } from "./ignore.js";

/** The k8s task hooks: `k8s-apply` for creates and updates, `k8s-delete` for deletes, in batches. */
export const k8sTasks: TaskHooks<"k8s"> = {
  kinds: ["k8s-apply", "k8s-delete"],
  handler: "cluster",
  kind: (step) => (step.op === "delete" ? "k8s-delete" : "k8s-apply"),
  batch: {
    start: (kind) => (kind === "k8s-apply" ? { kind, objects: [] } : { kind: "k8s-delete", keys: [], objects: [] }),
    add: (payload, step, desired, ignore) => {
      if (payload.kind === "k8s-apply") {
        if (!desired || desired.runtime !== "k8s") throw new Error(`plan step ${step.key} has no desired Kubernetes object`);
        // Objects that exist already are sent without the ignored fields (see ignore.ts); new ones get every field.
        payload.objects.push(step.op === "update" ? { ...desired, object: withoutIgnored(desired.object, desired.app, ignore) } : desired);
      } else if (payload.kind === "k8s-delete") {
        payload.keys.push(step.key);
        payload.objects.push(step.object);
      } else {
        throw new Error(`plan step ${step.key}: a ${payload.kind} task does not batch Kubernetes steps`);
      }
    },
  },
};

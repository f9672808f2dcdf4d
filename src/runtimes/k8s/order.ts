// Kubernetes apply order within one wave: by kind.
import { compareStrings, type PlanStep } from "../../model/index.js";

/** Kubernetes kinds in apply order; kinds not listed come after, by name. Services before Deployments
 * so that a Deployment's pods find their Service (and mesh DNS name) in place. */
export const K8S_KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "Service", "Deployment"] as const;

/** Two Kubernetes steps of one wave, by the kind of their objects. */
export function compareK8sSteps(a: PlanStep, b: PlanStep): number {
  return compareKinds(kindOf(a), kindOf(b));
}

/** The Kubernetes kind of a step (from its object name). */
function kindOf(s: PlanStep): string {
  return s.object.slice(0, s.object.indexOf("/"));
}

function compareKinds(a: string, b: string): number {
  const rank = (k: string) => {
    const i = (K8S_KIND_ORDER as readonly string[]).indexOf(k);
    return i >= 0 ? i : K8S_KIND_ORDER.length;
  };
  return rank(a) - rank(b) || compareStrings(a, b);
}

// The mesh runtime (`mesh`): each service's traffic policy, applied by recording it where the environment's xDS
// control plane reads it (a push to the proxies, no redeploy). One resource per service with a policy.
import type { HealthResult } from "../../model/index.js";
import { isObj, nonEmpty } from "../check.js";
import { desiredFor } from "../tasks.js";
import type { RuntimeHooks } from "../types.js";
import { comparePolicies } from "./compare.js";
import { meshFiles } from "./files.js";
import { renderMesh } from "./render.js";

export { MESH_TARGET, meshKey } from "./resource.js";
export type { MeshPayload } from "./payload.js";

export const mesh: RuntimeHooks<"mesh"> = {
  runtime: "mesh",
  target: { place: "environment", noun: "applied mesh policy" },
  objectName: (r) => r.policy.service,
  compare: (desired, actual) => comparePolicies(desired.policy, actual.policy),
  report: {
    row: "mesh",
    missing: (step) => `traffic policy of ${step.object} not applied to the mesh`,
    unexpected: (step) => `traffic policy of ${step.object} applied to the mesh but no longer in the config`,
    workload: () => false,
    health: ({ desired, actual }) => policyHealth(desired !== undefined, actual !== undefined),
  },
  tasks: {
    kinds: ["mesh-policy"],
    handler: "mesh",
    kind: () => "mesh-policy",
    // a split is not pushed to a version whose deploy failed
    needsOwnApp: true,
    payload: (step, desired) =>
      step.op === "delete"
        ? { kind: "mesh-policy", service: step.object, app: step.app, policy: null }
        : { kind: "mesh-policy", service: step.object, app: step.app, policy: desiredFor("mesh", step, "mesh-policy", desired).policy },
  },
  // After the instances it sends calls to: a split to a new version goes out once that version is deployed.
  plan: { afterApp: true },
  render: renderMesh,
  files: meshFiles,
  actualFile: {
    payload: "policy",
    check: (p, need) => {
      need("service", nonEmpty(p["service"]), "a non-empty string");
      need("split", Array.isArray(p["split"]), "a list");
      need("retries", p["retries"] === null || isObj(p["retries"]), "an object or null");
    },
  },
};

function policyHealth(desired: boolean, applied: boolean): HealthResult | null {
  if (desired && applied) return { health: "healthy", message: "policy applied" };
  if (desired) return { health: "missing", message: "policy not applied" };
  return null;
}

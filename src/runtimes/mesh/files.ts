// How `amphi render --out` writes traffic policies: the `policies` of `mesh/<env>.yaml`, amphi's own document for
// the environment's control plane (not a Kubernetes object), each policy as the control plane takes it.
import type { FilesHooks } from "../types.js";

/** The mesh files hook: one entry of `policies` per service, in `mesh/<env>.yaml`. */
export const meshFiles: FilesHooks<"mesh"> = {
  layout: "environment",
  folder: "mesh",
  kind: "MeshRender",
  section: "policies",
  entry: (r) => r.policy,
};

// How `amphi render --out` writes VM sidecars: the `sidecars` of their host group's file, with the bootstrap as
// a literal block (it reads as Envoy will read it).
import { hostGroupOf } from "../../model/index.js";
import type { FilesHooks } from "../types.js";

/** The sidecar files hook: one entry of `sidecars` per host, in `hostgroups/<group>.yaml`. */
export const sidecarFiles: FilesHooks<"sidecar"> = {
  layout: "hostgroups",
  file: (r) => hostGroupOf(r.target),
  section: "sidecars",
  entry: (r) => r.sidecar,
};

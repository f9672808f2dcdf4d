// How `amphi render --out` writes Consul registrations: the `registrations` of their host's group's file.
import { hostGroupOf } from "../../model/index.js";
import type { FilesHooks } from "../types.js";

/** The registry files hook: one entry of `registrations` per registration, in `hostgroups/<group>.yaml`. */
export const registryFiles: FilesHooks<"consul"> = {
  layout: "hostgroups",
  file: (r) => hostGroupOf(r.target),
  section: "registrations",
  entry: (r) => r.registration,
};

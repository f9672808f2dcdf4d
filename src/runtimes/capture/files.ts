// How `amphi render --out` writes capture rules: the `capture` of their host group's file. The fragment is
// multi-line text; js-yaml writes it as a literal block, so it reads as it will run.
import { hostGroupOf } from "../../model/index.js";
import type { FilesHooks } from "../types.js";

/** The capture files hook: one entry of `capture` per host, in `hostgroups/<group>.yaml`. */
export const captureFiles: FilesHooks<"capture"> = {
  layout: "hostgroups",
  file: (r) => hostGroupOf(r.target),
  section: "capture",
  entry: (r) => r.capture,
};

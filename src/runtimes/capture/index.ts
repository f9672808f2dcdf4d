// The capture resource kind: one host's iptables capture rules (and the mesh-dns they redirect to).
import { compareJson } from "../../compare/compare.js";
import { asJson, full, never } from "../../compare/options.js";
import { desiredFor } from "../tasks.js";
import type { RuntimeHooks } from "../types.js";
import { captureFiles } from "./files.js";
import { renderCapture } from "./render.js";

export const capture: RuntimeHooks<"capture"> = {
  runtime: "capture",
  target: { place: "host", noun: "host" },
  objectName: () => "iptables",
  /** The recorded rules (fragment and hooks) against the desired ones, plus what was seen on the host: live
   * rules that differ from the record (`capture drifted→present`) and recorded mesh-dns that does not run
   * (`meshDns stopped→running`) are changes too (the capture task rewrites the rules and starts mesh-dns). */
  compare: (desired, actual) => {
    const { fragment, hooks } = desired.capture;
    const live = actual.capture;
    const fields = compareJson(asJson({ fragment, hooks }), asJson({ fragment: live.fragment, hooks: live.hooks }), full(never));
    if (actual.observed?.capture === "drifted") fields.push({ path: "capture", from: "drifted", to: "present" });
    if (actual.observed?.meshDns === "stopped") fields.push({ path: "meshDns", from: "stopped", to: "running" });
    return fields;
  },
  report: {
    row: "vm",
    missing: (step) => `capture rules not installed on ${step.target}`,
    unexpected: (step) => `on ${step.target} but not desired (undeploy removes it)`,
    workload: () => false,
    health: ({ actual }) => (actual ? { health: "healthy", message: "rules installed" } : { health: "missing", message: "rules not installed" }),
  },
  tasks: {
    kinds: ["capture", "uncapture"],
    handler: "hosts",
    kind: (step) => (step.op === "delete" ? "uncapture" : "capture"),
    payload: (step, desired) => (step.op === "delete" ? { kind: "uncapture" } : { kind: "capture", rules: desiredFor("capture", step, "capture", desired).capture }),
  },
  // the rules redirect ports whose process is already deployed
  plan: { waveOf: "vm" },
  render: renderCapture,
  files: captureFiles,
  actualFile: {
    payload: "capture",
    nullApp: "capture rules (they belong to a host)",
    check: (p, need) => {
      need("fragment", typeof p["fragment"] === "string", "a string");
      need("hooks", Array.isArray(p["hooks"]), "a list");
    },
  },
};

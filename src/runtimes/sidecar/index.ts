// The sidecar resource kind: one VM host's Envoy (issue 12). Its own runtime rather than part of capture: it has
// its own lifecycle (package or binary, bootstrap, drain on upgrade, supervised restarts), its own drift and
// health, and it runs also where capture is off. Apply order does the rest: in RUNTIMES it comes before capture,
// so within a wave the sidecar is up before capture rules go in, and (deletes run in reverse) the rules are
// removed before the sidecar goes. The capture task checks the sidecar answers before it installs rules.
import { compareJson } from "../../compare/compare.js";
import { asJson, full, never } from "../../compare/options.js";
import { desiredFor } from "../tasks.js";
import type { RuntimeHooks } from "../types.js";
import { sidecarFiles } from "./files.js";
import { renderSidecar, sidecarVersion } from "./render.js";
import type { VmSidecar } from "./resource.js";

export const sidecar: RuntimeHooks<"sidecar"> = {
  runtime: "sidecar",
  target: { place: "host", noun: "host" },
  objectName: () => "envoy",
  /** Everything but the bootstrap's text (its digest stands for it, so plans stay one line per field); an
   * Envoy that does not answer is a change too (`proxy down→ready`: the task restarts it). */
  compare: (desired, actual) => {
    const fields = compareJson(asJson(comparable(desired.sidecar)), asJson(comparable(actual.sidecar)), full(never));
    if (actual.observed?.proxy === "down") fields.push({ path: "proxy", from: "down", to: "ready" });
    return fields;
  },
  report: {
    row: "vm",
    missing: (step) => `no sidecar (Envoy) on ${step.target}`,
    unexpected: (step) => `sidecar on ${step.target} but no mesh app there (undeploy removes it)`,
    fieldItem: (f) => (f.path === "proxy" ? { kind: "process", detail: "sidecar (Envoy) does not answer: no proxy listens on the capture ports" } : null),
    workload: () => false,
    health: ({ desired, actual }) => {
      if (!actual) return { health: "missing", message: "sidecar not installed" };
      const v = sidecarVersion((desired ?? actual).sidecar.source);
      if (actual.observed?.proxy === "down") return { health: "degraded", message: `sidecar ${v} down: no proxy listens on ${actual.sidecar.inboundPort}/${actual.sidecar.outboundPort}` };
      return { health: "healthy", message: `sidecar ${v} ready` };
    },
  },
  tasks: {
    kinds: ["sidecar", "unsidecar"],
    handler: "hosts",
    kind: (step) => (step.op === "delete" ? "unsidecar" : "sidecar"),
    payload: (step, desired) => (step.op === "delete" ? { kind: "unsidecar" } : { kind: "sidecar", sidecar: desiredFor("sidecar", step, "sidecar", desired).sidecar }),
  },
  // Envoy serves the apps of its host: it goes in the wave of the host's app steps, before capture (RUNTIMES).
  plan: { waveOf: "vm" },
  render: renderSidecar,
  files: sidecarFiles,
  actualFile: {
    payload: "sidecar",
    nullApp: "a sidecar (it belongs to a host)",
    check: (p, need) => {
      need("nodeId", typeof p["nodeId"] === "string", "a string");
      need("bootstrapDigest", typeof p["bootstrapDigest"] === "string", "a string");
      need("source", typeof p["source"] === "object" && p["source"] !== null, "an object");
    },
    observed: { proxy: ["ready", "down"] },
  },
};

/** The sidecar as compared: the bootstrap by its digest. */
function comparable(s: VmSidecar): Omit<VmSidecar, "bootstrap"> {
  const { bootstrap: _text, ...rest } = s;
  return rest;
}

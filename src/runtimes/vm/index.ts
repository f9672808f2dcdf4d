// The vm runtime: one app instance on one host, as state.json records it.
import type { FieldChange, HealthResult } from "../../model/index.js";
import { compareJson } from "../../compare/compare.js";
import { asJson, full } from "../../compare/options.js";
import { vmSecretPredicate } from "../../compare/redact.js";
import { isStringMap } from "../check.js";
import { desiredFor } from "../tasks.js";
import type { ActualOf, ResourceOf, RuntimeHooks } from "../types.js";
import { vmFiles } from "./files.js";
import { renderVm } from "./render.js";
import { vmSecrets } from "./secrets.js";

export const vm: RuntimeHooks<"vm"> = {
  runtime: "vm",
  target: { place: "host", noun: "host" },
  objectName: (r) => r.app,
  compare: (desired, actual) => compareVm(desired, actual),
  report: {
    row: "vm",
    missing: (step) => `not installed on ${step.target}`,
    unexpected: (step) => `on ${step.target} but not desired (undeploy removes it)`,
    fieldItem: (f) => (f.path === "process" ? { kind: "process", detail: `process is ${String(f.from)}, want ${String(f.to)}` } : null),
    workload: () => true,
    health: ({ actual }) => vmHealth(actual),
    // An unrecorded app's instance holds only what the host shows: no version.
    version: (a) => (a.observed?.record?.state === "unrecorded" ? null : a.instance.version || null),
  },
  tasks: {
    kinds: ["deploy", "start", "undeploy"],
    handler: "hosts",
    // an app whose dependency failed is still removed: nothing of the dependency is needed for that
    runWhenBlocked: ["undeploy"],
    kind: (step) => {
      if (step.op === "delete") return "undeploy";
      // Only the process is off: start it, do not redeploy what is already there.
      return step.op === "update" && step.fields.every((f) => f.path === "process") ? "start" : "deploy";
    },
    payload: (step, desired) => {
      const kind = vm.tasks.kind(step);
      if (kind === "undeploy" || kind === "start") return { kind, app: step.app ?? step.object };
      return { kind: "deploy", instance: desiredFor("vm", step, kind, desired).instance };
    },
  },
  render: renderVm,
  files: vmFiles,
  actualFile: {
    payload: "instance",
    check: (p, need) => {
      need("environment", isStringMap(p["environment"]), "a map of strings");
      need("secretEnv", Array.isArray(p["secretEnv"]) && p["secretEnv"].every((n) => typeof n === "string"), "a list of strings");
    },
    observed: { process: ["running", "stopped", "unknown"] },
  },
  secrets: vmSecrets,
};

/** amphi owns the whole host record (what state.json says), so every field counts; a stopped process
 * is a change too (the step starts it). An `unknown` process state adds nothing. A record state.json
 * leaves open (an interrupted deploy, an app running unrecorded) is a change (the step redeploys). */
function compareVm(desired: ResourceOf<"vm">, actual: ActualOf<"vm">): FieldChange[] {
  const open = actual.observed?.record;
  const record: FieldChange[] = open ? [{ path: "record", from: open.detail, to: "recorded" }] : [];
  // an unrecorded app's instance is only what the host shows: its fields say nothing
  if (open?.state === "unrecorded") return record;
  const secret = vmSecretPredicate([...desired.instance.secretEnv, ...(actual.instance.secretEnv ?? [])]);
  const fields = [...record, ...compareJson(asJson(desired.instance), asJson(actual.instance), full(secret))];
  if (actual.observed?.process === "stopped") fields.push({ path: "process", from: "stopped", to: "running" });
  return fields;
}

/** The process check: whether the app's process runs on its host (as the host's supervisor shows it). Its
 * message names the check, so a row's health says which check decided it (process, HTTP health via Consul). */
function vmHealth(a: ActualOf<"vm"> | undefined): HealthResult {
  if (!a) return { health: "missing", message: "not installed" };
  switch (a.observed?.process) {
    case "running":
      return { health: "healthy", message: "process check: running" };
    case "stopped":
      return { health: "degraded", message: "process check: stopped" };
    default:
      return { health: "unknown", message: "process check: not observed" };
  }
}

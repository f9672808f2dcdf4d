// The registry runtime (`consul`): Consul agent service registrations of host instances.
import type { HealthResult, Registration } from "../../model/index.js";
import { compareJson } from "../../compare/compare.js";
import { asJson, full, never } from "../../compare/options.js";
import { nonEmpty } from "../check.js";
import { desiredFor } from "../tasks.js";
import type { RuntimeHooks } from "../types.js";
import { registryFiles } from "./files.js";
import { renderRegistry } from "./render.js";
import { registrations } from "./registrations.js";

export const registry: RuntimeHooks<"consul"> = {
  runtime: "consul",
  target: { place: "environment", noun: "consul" },
  objectName: (r) => r.registration.id,
  // The check's health (observed.check) is not compared: re-registering does not fix a failing
  // check. Health belongs to drift reports; only registration settings make a plan step.
  compare: (desired, actual) => compareJson(asJson(desired.registration), asJson(actual.registration), full(never)),
  report: {
    row: "vm",
    missing: () => "not registered in Consul",
    unexpected: () => "registered in Consul but not desired",
    // Consul creates/deletes and address/port changes that registry drift already names are left to it.
    coveredBy: (op, object, path) => {
      if (op === "create") return `missing:${object}`;
      if (op === "delete") return `unexpected:${object}`;
      return path === "address" || path === "port" ? `${path}:${object}` : null;
    },
    workload: () => false,
    health: ({ actual }) => (actual ? checkHealth(actual.observed?.check, actual.registration) : null),
  },
  tasks: {
    kinds: ["register", "deregister"],
    handler: "registry",
    // an instance whose deploy failed on its host is not registered (its previous registration stays as it was)
    needsOwnApp: true,
    kind: (step) => (step.op === "delete" ? "deregister" : "register"),
    payload: (step, desired) =>
      step.op === "delete"
        ? { kind: "deregister", id: step.object, service: step.key.split("/")[1] ?? "" }
        : { kind: "register", registration: desiredFor("consul", step, "register", desired).registration },
  },
  render: renderRegistry,
  files: registryFiles,
  actualFile: {
    payload: "registration",
    check: (p, need) => need("id", nonEmpty(p["id"]), "a non-empty string"),
    observed: { check: ["passing", "warning", "critical"] },
  },
  registry: registrations,
};

/** A Consul TTL check is the host's health probe as its reporter last saw it: the HTTP health GET when the
 * service has a health check (the check's notes name the URL), else the process alone. The message names which. */
function checkHealth(check: "passing" | "warning" | "critical" | undefined, reg: Registration): HealthResult | null {
  if (check === undefined) return null;
  const health = check === "passing" ? "healthy" : check === "warning" ? "progressing" : "degraded";
  const url = /\bGET (\S+)/.exec(reg.check.notes)?.[1];
  const id = reg.check.checkId || `service:${reg.id}`;
  const source = url ? `HTTP health check (GET ${url}, Consul check ${id})` : `Consul check ${id} (process only, no HTTP health check)`;
  return { health, message: `${source}: ${check}` };
}

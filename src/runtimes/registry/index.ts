// The registry runtime (`consul`): Consul agent service registrations of host instances.
import type { HealthResult } from "../../model/index.js";
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
    health: ({ actual }) => checkHealth(actual?.observed?.check),
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

/** A Consul TTL check is the host's health probe as its reporter last saw it. */
function checkHealth(check: "passing" | "warning" | "critical" | undefined): HealthResult | null {
  if (check === "passing") return { health: "healthy", message: "health check passing" };
  if (check === "warning") return { health: "progressing", message: "health check warning" };
  if (check === "critical") return { health: "degraded", message: "health check critical" };
  return null;
}

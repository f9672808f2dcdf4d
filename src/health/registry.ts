// Registry drift: the registrations render wants for an environment × what Consul has (amphi-tagged for
// that environment), per service instance. Pure; one line per item, in a fixed order.
import { CONSUL_TAG, compareStrings, type ActualState, type DesiredState, type Registration } from "../model/index.js";
import { observedRegistrationOf, registrationOf } from "../runtimes/registrations.js";

/** Kinds of registry drift, in the order items of one instance are listed. */
export const REGISTRY_DRIFT_KINDS = ["missing", "unexpected", "address", "port", "version", "critical", "warning"] as const;
/** One kind of registry drift. */
export type RegistryDriftKind = (typeof REGISTRY_DRIFT_KINDS)[number];

/** One drift item: which registration, what is wrong, and a short detail. */
export interface RegistryDrift {
  kind: RegistryDriftKind;
  service: string;
  id: string;
  host: string;
  detail: string;
  /** The report row the item belongs in, when no desired or actual resource carries the registration (pod
   * instances: the app's row on its cluster). */
  row?: { app: string; runtime: "k8s"; target: string };
}

/** A registration as observed in Consul, with its check status. */
export interface ObservedRegistration {
  registration: Registration;
  check: "passing" | "warning" | "critical" | undefined;
}

/** Drift of environment `env`: desired registrations vs observed ones. Observed registrations without the
 * `amphi` and `env:<env>` tags are not amphi's (or not this environment's) and are ignored. Sorted by
 * service, ID, then kind. */
export function registryDrift(env: string, desired: readonly Registration[], observed: readonly ObservedRegistration[]): RegistryDrift[] {
  const want = new Map(desired.map((r) => [r.id, r]));
  const have = new Map(observed.filter((o) => isAmphiOf(o.registration, env)).map((o) => [o.registration.id, o]));
  const out: RegistryDrift[] = [];
  for (const [id, d] of want) {
    const o = have.get(id);
    if (!o) {
      out.push(item("missing", d, `not registered in Consul (want ${d.address}:${d.port})`));
      continue;
    }
    const a = o.registration;
    if (a.address !== d.address) out.push(item("address", d, `address ${a.address || "(none)"} in Consul, want ${d.address}`));
    if (a.port !== d.port) out.push(item("port", d, `port ${a.port} in Consul, want ${d.port}`));
    if (o.check === "critical" || o.check === "warning") out.push(item(o.check, d, `check ${d.check.checkId} is ${o.check}`));
  }
  for (const [id, o] of have) {
    if (want.has(id)) continue;
    const a = o.registration;
    out.push(item("unexpected", a, `amphi-tagged for ${env} but not desired (app ${a.app || "?"}, ${a.address}:${a.port})`));
  }
  return out.sort(compareDrift);
}

/** Registry drift from a desired and an actual state (their registrations: the resources of the runtime
 * with registry hooks, `consul`). */
export function registryDriftOf(desired: DesiredState, actual: ActualState): RegistryDrift[] {
  const regs = desired.resources.flatMap((r) => registrationOf(r) ?? []);
  const seen = actual.resources.flatMap((a) => observedRegistrationOf(a) ?? []);
  return registryDrift(desired.env, regs, seen);
}

/** One line: `missing     billing/billing-vm-2-9100 on vm-2: not registered in Consul (want 10.0.0.2:9100)`. */
export function formatRegistryDrift(d: RegistryDrift): string {
  return `${d.kind.padEnd(10)}  ${d.service}/${d.id}${d.host ? ` on ${d.host}` : ""}: ${d.detail}`;
}

function isAmphiOf(r: Registration, env: string): boolean {
  return r.tags.includes(CONSUL_TAG) && r.tags.includes(`env:${env}`);
}

function item(kind: RegistryDriftKind, r: Registration, detail: string): RegistryDrift {
  return { kind, service: r.service, id: r.id, host: r.host, detail };
}

function compareDrift(a: RegistryDrift, b: RegistryDrift): number {
  return compareStrings(a.service, b.service) || compareStrings(a.id, b.id) || REGISTRY_DRIFT_KINDS.indexOf(a.kind) - REGISTRY_DRIFT_KINDS.indexOf(b.kind);
}

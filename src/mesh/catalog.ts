// Services in the registry that no app declares (apps that register themselves, e.g. Spring Cloud Consul) →
// mesh destinations: one port per catalog port of their instances, the protocol their `protocol` meta (or a
// `protocol=<p>` tag) names, tcp without one. A port that would collide on the one mesh IP (a tcp service on a port
// another service uses, or an http/grpc one on a tcp service's port) is skipped with a warning naming both; the
// declared services always keep theirs. Pure.
import type { Protocol } from "../model/spec.js";
import type { RegisteredInstance, ServiceDecl } from "./registry.js";

/** The meta key (also read as a tag `protocol=<p>`) a self-registered service names its protocol with, as Istio's
 * Consul registry read it. Default tcp: an opaque stream carries any protocol (HTTP too, without routing by Host),
 * while an http default would break every non-HTTP service (databases, brokers) that registers itself. */
export const PROTOCOL_META = "protocol";

const PROTOCOLS: readonly Protocol[] = ["http", "grpc", "tcp"];
// Names reach Envoy virtual-host domains and DNS: DNS labels only (uppercase folded by mesh-dns is not enough here).
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The self-registered services that become destinations, and why others (or some of their ports) did not. */
export interface CatalogServices {
  services: ServiceDecl[];
  /** One line per service or port left out, sorted: `mesh: self-registered service "x" …`. */
  warnings: string[];
}

/** Services of `catalog` (registry entries by name) that `declared` lacks, as declarations (`app` = their name):
 * skipped are the `consul` service, names that are not DNS labels, services any instance of which amphi registered
 * (tag `amphi`: another environment's or an app no longer placed — drift, not a destination), and ports that
 * collide (see the top of this file). Sorted by name. */
export function catalogServices(declared: readonly ServiceDecl[], catalog: ReadonlyMap<string, readonly RegisteredInstance[]>): CatalogServices {
  const own = new Set(declared.map((d) => d.name));
  const used = new Map<number, { name: string; protocol: Protocol }[]>();
  const use = (port: number, name: string, protocol: Protocol): void => void used.set(port, [...(used.get(port) ?? []), { name, protocol }]);
  for (const d of declared) for (const p of d.ports) use(p.port, d.name, p.protocol);
  const services: ServiceDecl[] = [];
  const warnings: string[] = [];
  for (const name of [...catalog.keys()].sort()) {
    const instances = catalog.get(name)!;
    if (own.has(name) || name === "consul" || instances.length === 0 || instances.some((i) => i.tags.includes("amphi"))) continue;
    const what = `mesh: self-registered service "${name}"`;
    if (!NAME.test(name)) {
      warnings.push(`${what} is not a DNS label: not a mesh destination`);
      continue;
    }
    const { protocol, problem } = protocolOf(instances);
    if (problem) warnings.push(`${what}: ${problem}; serving it as tcp`);
    const ports: ServiceDecl["ports"] = [];
    for (const port of [...new Set(instances.map((i) => i.port).filter((p) => p > 0))].sort((a, b) => a - b)) {
      const clash = (used.get(port) ?? []).find((u) => protocol === "tcp" || u.protocol === "tcp");
      if (clash) {
        warnings.push(`${what} (${protocol}, port ${port}) collides with service "${clash.name}" (${clash.protocol}) on port ${port}: port skipped (every service shares the mesh IP, so a tcp service is told apart by its port alone)${protocol === "tcp" ? `; if it speaks HTTP, register it with meta ${PROTOCOL_META}=http` : ""}`);
        continue;
      }
      use(port, name, protocol);
      ports.push({ port, protocol });
    }
    if (ports.length > 0) services.push({ name, app: name, ports });
  }
  return { services, warnings: warnings.sort() };
}

/** The protocol the instances name (meta `protocol`, else tag `protocol=<p>`); tcp when none does, or with a
 * problem when they name an unknown one or disagree. */
function protocolOf(instances: readonly RegisteredInstance[]): { protocol: Protocol; problem: string | null } {
  const named = new Set<string>();
  for (const i of instances) {
    const tag = i.tags.find((t) => t.startsWith(`${PROTOCOL_META}=`));
    const value = i.meta[PROTOCOL_META] ?? tag?.slice(PROTOCOL_META.length + 1);
    if (value !== undefined) named.add(value.toLowerCase());
  }
  if (named.size === 0) return { protocol: "tcp", problem: null };
  const [only] = named;
  if (named.size > 1) return { protocol: "tcp", problem: `its instances name different protocols (${[...named].sort().join(", ")})` };
  if (!(PROTOCOLS as readonly string[]).includes(only!)) return { protocol: "tcp", problem: `unknown ${PROTOCOL_META} "${only}" (http, grpc or tcp)` };
  return { protocol: only as Protocol, problem: null };
}

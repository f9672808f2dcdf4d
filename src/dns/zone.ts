// The mesh zone: registered service names → the mesh service IP. Built once per catalog change and swapped
// whole, so a query reads one immutable table. Every answer record is encoded here, ahead of any query.
import type { MeshModel } from "../model/index.js";
import { nameKey, QTYPE, QCLASS } from "./wire.js";

/** What a zone needs from the environment's mesh settings. */
export interface ZoneSettings {
  /** The one IP every mesh name resolves to. */
  serviceIP: string;
  /** Domain under which services also resolve (`user.mesh`); mesh-dns answers NXDOMAIN for unknown names in it. */
  domain: string;
  /** TTL of the A records, in seconds. Short: a deregistered name stops resolving soon after. */
  ttl: number;
}

/** Default TTL of mesh answers (seconds). */
export const DEFAULT_TTL = 5;

/** Zone settings from an environment's mesh settings. */
export function zoneSettings(mesh: Pick<MeshModel, "serviceIP" | "domain">, ttl = DEFAULT_TTL): ZoneSettings {
  return { serviceIP: mesh.serviceIP, domain: mesh.domain, ttl };
}

/** One name of the zone: the pre-encoded A record answering it, or null for a name that exists without
 * an address (the domain's apex). */
export interface ZoneEntry {
  a: Buffer | null;
}

/** The mesh zone. `lookup` takes the key `QueryParser` builds (lower-case wire name). */
export class Zone {
  /** The service names, sorted, as they resolve bare (`user`). */
  readonly services: readonly string[];
  readonly settings: ZoneSettings;
  private readonly names: Map<string, ZoneEntry>;
  private readonly domainKey: string;

  constructor(services: readonly string[], settings: ZoneSettings) {
    if (!isIPv4(settings.serviceIP)) throw new Error(`mesh service IP "${settings.serviceIP}" is not an IPv4 address`);
    this.services = services;
    this.settings = settings;
    this.domainKey = nameKey(settings.domain);
    const a: ZoneEntry = { a: encodeA(settings.serviceIP, settings.ttl) };
    this.names = new Map([[this.domainKey, { a: null }]]);
    for (const s of services) {
      this.names.set(nameKey(s), a);
      this.names.set(nameKey(`${s}.${settings.domain}`), a);
    }
  }

  /** The entry of a name, or undefined when the zone does not know it. */
  lookup(key: string): ZoneEntry | undefined {
    return this.names.get(key);
  }

  /** Whether a name lies under the mesh domain (`x.mesh`): mesh-dns owns those and never forwards them. */
  inDomain(key: string): boolean {
    return key.endsWith(this.domainKey);
  }

  /** Number of service names. */
  get size(): number {
    return this.services.length;
  }
}

/** Builds a zone from service names (any case, duplicates allowed; invalid names must be filtered first,
 * see `meshServiceNames`). */
export function buildZone(services: Iterable<string>, settings: ZoneSettings): Zone {
  const names = [...new Set([...services].map((s) => s.toLowerCase()))].sort();
  return new Zone(names, settings);
}

/** Whether an answer for `qtype`/`qclass` is the A record (A or ANY, class IN or ANY); other types of a
 * mesh name get NOERROR with no answer (NODATA), AAAA included: the mesh IP is IPv4 only. */
export function wantsA(qtype: number, qclass: number): boolean {
  return (qtype === QTYPE.A || qtype === QTYPE.ANY) && (qclass === QCLASS.IN || qclass === QCLASS.ANY);
}

/** The A record answering any mesh name: owner is a compression pointer to the question (offset 12),
 * so the answer repeats the name exactly as the client wrote it. 16 bytes. */
export function encodeA(ip: string, ttl: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xc00c, 0);
  b.writeUInt16BE(QTYPE.A, 2);
  b.writeUInt16BE(QCLASS.IN, 4);
  b.writeUInt32BE(ttl >>> 0, 6);
  b.writeUInt16BE(4, 10);
  ip.split(".").forEach((o, i) => b.writeUInt8(Number(o), 12 + i));
  return b;
}

function isIPv4(ip: string): boolean {
  const parts = ip.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Which catalog services become mesh names: every service whose name is a DNS label, except Consul's own
 * `consul` service (Consul's servers are reached directly, not through the sidecar). Returns the names kept
 * (lower case, sorted) and the ones skipped. */
export function meshServiceNames(catalog: Iterable<string>): { names: string[]; skipped: string[] } {
  const names = new Set<string>();
  const skipped: string[] = [];
  for (const s of catalog) {
    if (s === "consul") continue;
    if (LABEL.test(s)) names.add(s.toLowerCase());
    else skipped.push(s);
  }
  return { names: [...names].sort(), skipped: skipped.sort() };
}

/** What changed between two sorted name lists. */
export function zoneDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((n) => !b.has(n)), removed: before.filter((n) => !a.has(n)) };
}

/** One log line for a zone change: `zone: 12 services (+cart, -legacy)`; long lists are cut after 10 names. */
export function formatZoneChange(size: number, diff: { added: string[]; removed: string[] }): string {
  const list = (sign: string, names: string[]): string[] => {
    const shown = names.slice(0, 10).map((n) => sign + n);
    return names.length > 10 ? [...shown, `${sign}${names.length - 10} more`] : shown;
  };
  const changes = [...list("+", diff.added), ...list("-", diff.removed)];
  return `zone: ${size} service${size === 1 ? "" : "s"}${changes.length ? ` (${changes.join(", ")})` : ""}`;
}

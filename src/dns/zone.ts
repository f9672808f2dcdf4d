// The mesh zone: registered service names → the mesh service IP. Built once per catalog change and swapped
// whole, so a query reads one immutable table. Every answer record is encoded here, ahead of any query.
import type { MeshModel } from "../model/index.js";
import { nameHash, nameKey, QTYPE, QCLASS } from "./wire.js";

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

/** The mesh zone. `find` takes the lower-case wire name and hash `QueryParser` leaves in its fields (the hot
 * path); `lookup` and `inDomain` take the same name as a string key (`nameKey`). */
export class Zone {
  /** The service names, sorted, as they resolve bare (`user`). */
  readonly services: readonly string[];
  readonly settings: ZoneSettings;
  private readonly names: Map<string, ZoneEntry>;
  private readonly table: NameTable;
  private readonly domainKey: string;
  private readonly domainBytes: Buffer;

  constructor(services: readonly string[], settings: ZoneSettings) {
    if (!isIPv4(settings.serviceIP)) throw new Error(`mesh service IP "${settings.serviceIP}" is not an IPv4 address`);
    this.services = services;
    this.settings = settings;
    this.domainKey = nameKey(settings.domain);
    this.domainBytes = Buffer.from(this.domainKey, "latin1");
    const a: ZoneEntry = { a: encodeA(settings.serviceIP, settings.ttl) };
    this.names = new Map([[this.domainKey, { a: null }]]);
    for (const s of services) {
      this.names.set(nameKey(s), a);
      this.names.set(nameKey(`${s}.${settings.domain}`), a);
    }
    this.table = new NameTable(this.names);
  }

  /** The entry of a name, or undefined when the zone does not know it. */
  lookup(key: string): ZoneEntry | undefined {
    return this.names.get(key);
  }

  /** The entry of the lower-case wire name in bytes [0, length) of `name` whose `nameHash` is `hash`, or
   * undefined: the same answer as `lookup`, without building a string. */
  find(name: Uint8Array, length: number, hash: number): ZoneEntry | undefined {
    return this.table.find(name, length, hash);
  }

  /** Whether a name lies under the mesh domain (`x.mesh`): mesh-dns owns those and never forwards them. */
  inDomain(key: string): boolean {
    return key.endsWith(this.domainKey);
  }

  /** `inDomain` for the lower-case wire name in bytes [0, length) of `name`. */
  nameInDomain(name: Uint8Array, length: number): boolean {
    const d = this.domainBytes;
    const from = length - d.length;
    if (from < 0) return false;
    for (let i = 0; i < d.length; i++) if (name[from + i] !== d[i]) return false;
    return true;
  }

  /** Number of service names. */
  get size(): number {
    return this.services.length;
  }
}

/** An open-addressing hash table from lower-case wire names to entries, built once per zone: a query's name
 * is compared as bytes against one packed buffer, so a lookup allocates nothing (a string key per query
 * and a Map lookup were a tenth of mesh-dns's own instructions per answer). */
class NameTable {
  /** Per slot: 1 + the index of the name there, or 0 when empty. Twice as many slots as names or more. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly hashes: Int32Array;
  /** The names, packed: name i is bytes [starts[i], starts[i + 1]). */
  private readonly bytes: Buffer;
  private readonly starts: Int32Array;
  private readonly entries: ZoneEntry[];

  constructor(names: Map<string, ZoneEntry>) {
    const keys = [...names.keys()];
    let size = 8;
    while (size < keys.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.hashes = new Int32Array(keys.length);
    this.bytes = Buffer.from(keys.join(""), "latin1");
    this.starts = new Int32Array(keys.length + 1);
    this.entries = keys.map((k) => names.get(k)!);
    let at = 0;
    keys.forEach((key, i) => {
      this.starts[i] = at;
      at += key.length;
      const hash = nameHash(this.bytes, this.starts[i]!, at);
      this.hashes[i] = hash;
      let slot = hash & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = i + 1;
    });
    this.starts[keys.length] = at;
  }

  find(name: Uint8Array, length: number, hash: number): ZoneEntry | undefined {
    const want = hash | 0;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const i = this.slots[slot]! - 1;
      if (i < 0) return undefined;
      if (this.hashes[i] !== want) continue;
      const start = this.starts[i]!;
      if (this.starts[i + 1]! - start === length && this.same(name, length, start)) return this.entries[i];
    }
  }

  private same(name: Uint8Array, length: number, start: number): boolean {
    const bytes = this.bytes;
    for (let j = 0; j < length; j++) if (name[j] !== bytes[start + j]) return false;
    return true;
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

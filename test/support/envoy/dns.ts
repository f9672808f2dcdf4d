// The UDP DNS listener of the Envoy test double: `envoy.filters.udp.dns_filter` as amphi's control plane emits it
// for pod sidecars (src/mesh/dns.ts; API: envoy/extensions/filters/udp/dns_filter/v3): names of the inline
// `dns_table`'s `virtual_domains` get their `address_list` as A (IPv4) or AAAA (IPv6) records with `answer_ttl`
// (default 300 s); a table name asked for another type gets an empty NOERROR answer. Other names, with a
// `client_config`, go to the resolver Envoy has: the system's (/etc/resolv.conf nameservers), or with a c-ares
// `typed_dns_resolver_config` its `resolvers` — only when the system has none if `use_resolvers_as_fallback` —
// within `resolver_timeout` (default 5 s) each; the answer is relayed as it comes (Envoy builds its own from the
// addresses it resolved: the same records for A/AAAA). None answering: SERVFAIL. Without `client_config`: NXDOMAIN.
// One question per query, as Envoy handles.
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { durationMs } from "./shape.js";
import { T } from "./resources.js";
import { log } from "./log.js";

/** What one DNS listener answers, and where it forwards other names (null: nowhere). */
export interface Table {
  names: Map<string, { v4: string[]; v6: string[]; ttl: number }>;
  forward: { resolvers: { address: string; port: number }[]; timeoutMs: number } | null;
}

interface Bound {
  key: string;
  socket: dgram.Socket;
  table: Table;
}

/** The double's DNS listeners. */
export class DnsListeners {
  private readonly bound = new Map<string, Bound>();

  /** Binds the UDP listeners with a DNS filter among `listeners`, closes the others; a listener that stays takes
   * its new table. */
  async apply(listeners: ReadonlyMap<string, Record<string, any>>): Promise<void> {
    const wanted = new Map<string, { key: string; sa: any; table: Table }>();
    for (const [name, body] of listeners) {
      const sa = body.address?.socket_address;
      if (sa?.protocol !== "UDP") continue;
      const filter = (body.listener_filters ?? []).find((f: any) => f.typed_config?.["@type"] === T.dnsFilter);
      if (!filter) throw new Error(`${name}: a UDP listener without the DNS filter is not implemented by the Envoy test double`);
      wanted.set(name, { key: `${sa.address}:${sa.port_value ?? 0}`, sa, table: tableOf(filter.typed_config) });
    }
    for (const [name, b] of [...this.bound]) {
      if (wanted.get(name)?.key !== b.key) {
        b.socket.close();
        this.bound.delete(name);
      }
    }
    for (const [name, w] of wanted) {
      const b = this.bound.get(name);
      if (b) b.table = w.table;
      else this.bound.set(name, await bind(name, w.key, w.sa, w.table));
    }
  }

  close(): void {
    for (const b of this.bound.values()) b.socket.close();
    this.bound.clear();
  }
}

function tableOf(cfg: Record<string, any>): Table {
  const names = new Map<string, { v4: string[]; v6: string[]; ttl: number }>();
  for (const d of cfg.server_config?.inline_dns_table?.virtual_domains ?? []) {
    const addrs: string[] = d.endpoint?.address_list?.address ?? [];
    names.set(String(d.name).toLowerCase().replace(/\.$/, ""), { v4: addrs.filter((a) => isIPv4(a)), v6: addrs.filter((a) => isIPv6(a)), ttl: Math.round((durationMs(d.answer_ttl) ?? 300_000) / 1000) });
  }
  const c = cfg.client_config;
  if (!c) return { names, forward: null };
  const cares = c.typed_dns_resolver_config?.typed_config;
  const listed = ((cares?.resolvers ?? []) as any[]).map((r) => ({ address: String(r.socket_address.address), port: Number(r.socket_address.port_value ?? 53) }));
  const system = systemResolvers();
  const resolvers = !cares ? system : cares.use_resolvers_as_fallback ? (system.length > 0 ? system : listed) : listed;
  return { names, forward: { resolvers, timeoutMs: durationMs(c.resolver_timeout) ?? 5000 } };
}

/** The nameservers of /etc/resolv.conf (c-ares' default), port 53. */
function systemResolvers(): { address: string; port: number }[] {
  try {
    return readFileSync("/etc/resolv.conf", "utf8")
      .split("\n")
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((a): a is string => a !== undefined && (isIPv4(a) || isIPv6(a)))
      .map((address) => ({ address, port: 53 }));
  } catch {
    return [];
  }
}

function bind(name: string, key: string, sa: any, table: Table): Promise<Bound> {
  const socket = dgram.createSocket(isIPv6(String(sa.address)) ? "udp6" : "udp4");
  const entry: Bound = { key, socket, table };
  socket.on("message", (msg, rinfo) => {
    void answer(entry.table, msg).then((out) => {
      if (out) socket.send(out, rinfo.port, rinfo.address);
    });
  });
  return new Promise((resolve, reject) => {
    socket.once("error", (e) => reject(new Error(`${name}: cannot bind ${key}/udp: ${e.message}`)));
    socket.bind({ address: String(sa.address), port: Number(sa.port_value ?? 0), exclusive: true }, () => {
      socket.removeAllListeners("error");
      socket.on("error", () => {});
      log("info", "dns", `listener ${name} bound on ${key}/udp`);
      resolve(entry);
    });
  });
}

/** The answer to one query, or null to drop it (not a query). */
export async function answer(table: Table, q: Buffer): Promise<Buffer | null> {
  if (q.length < 12 || (q[2]! & 0x80) !== 0) return null;
  const question = parseQuestion(q);
  if (!question || q.readUInt16BE(4) !== 1) return header(q, 1, [], q.subarray(12, question?.end ?? 12));
  const entry = table.names.get(question.name.toLowerCase().replace(/\.$/, ""));
  const qsection = q.subarray(12, question.end);
  if (entry) {
    const addrs = question.type === 1 ? entry.v4 : question.type === 28 ? entry.v6 : [];
    return header(q, 0, addrs.map((a) => record(question.type, entry.ttl, a)), qsection);
  }
  if (!table.forward) return header(q, 3, [], qsection);
  for (const r of table.forward.resolvers) {
    const reply = await forward(q, r, table.forward.timeoutMs);
    if (reply) return reply;
  }
  return header(q, 2, [], qsection);
}

function parseQuestion(q: Buffer): { name: string; type: number; end: number } | null {
  const labels: string[] = [];
  let i = 12;
  while (i < q.length && q[i] !== 0) {
    if ((q[i]! & 0xc0) !== 0) return null;
    labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString("latin1"));
    i += q[i]! + 1;
  }
  if (i + 5 > q.length) return null;
  return { name: labels.join("."), type: q.readUInt16BE(i + 1), end: i + 5 };
}

/** A response: the query's id and RD, QR and RA set, `rcode`, its question, `answers`. */
function header(q: Buffer, rcode: number, answers: Buffer[], question: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.readUInt16BE(0), 0);
  h.writeUInt16BE(0x8000 | 0x0400 | (q.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  h.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
  h.writeUInt16BE(answers.length, 6);
  return Buffer.concat([h, question, ...answers]);
}

function record(type: number, ttl: number, address: string): Buffer {
  const data = type === 1 ? Buffer.from(address.split(".").map(Number)) : ipv6Bytes(address);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(1, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(data.length, 10);
  return Buffer.concat([rr, data]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || "0", 16), i * 2));
  return b;
}

function forward(q: Buffer, r: { address: string; port: number }, ms: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(isIPv6(r.address) ? "udp6" : "udp4");
    const done = (b: Buffer | null) => {
      clearTimeout(t);
      s.close();
      resolve(b);
    };
    const t = setTimeout(() => done(null), ms);
    s.on("error", () => done(null));
    s.on("message", (m) => {
      if (m.length >= 2 && m.readUInt16BE(0) === q.readUInt16BE(0)) done(m);
    });
    s.send(q, r.port, r.address);
  });
}

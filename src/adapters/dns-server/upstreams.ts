// Where mesh-dns forwards names that are not the mesh's: `--upstream` flags, else the environment's
// `mesh.dnsUpstreams`, else the nameservers of the host's /etc/resolv.conf.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

/** One upstream resolver. `host` is an IP literal in canonical form (IPv6 compressed, lower case). */
export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Parses `IP`, `IP:port`, `[IPv6]` or `[IPv6]:port` (port 53 by default). Throws naming the bad value. */
export function parseUpstream(text: string): Upstream {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text) ?? [text, text, undefined];
  const host = m[1] ?? "";
  const port = m[2] === undefined ? 53 : Number(m[2]);
  const family = isIP(host);
  if (family === 0) throw new Error(`upstream "${text}": not an IP address (IP, IP:port, [IPv6]:port)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`upstream "${text}": bad port`);
  return { host: canonicalIP(host), port, family: family as 4 | 6 };
}

/** An IP literal as `rinfo.address` reports it (IPv6 compressed and lower case), so replies can be matched. */
export function canonicalIP(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** `host:port`, `[v6]:port`. */
export function formatUpstream(u: Upstream): string {
  return u.family === 6 ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
}

/** The nameservers of a resolv.conf text (port 53), in order. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, ""); // a link-local scope (fe80::1%eth0) is not kept
    if (isIP(host) !== 0) out.push({ host: canonicalIP(host), port: 53, family: isIP(host) as 4 | 6 });
  }
  return out;
}

/** Resolvers from the host's resolv.conf, minus mesh-dns's own listen addresses (port 53 of them is
 * redirected to mesh-dns itself under capture: a loop). systemd-resolved's stub (127.0.0.53) is replaced by
 * the resolvers it uses (/run/systemd/resolve/resolv.conf): its own upstream queries would be captured too.
 * Returns the list and notes for the start-up log. */
export function systemUpstreams(listen: readonly string[], read: (path: string) => string | null = readText): { upstreams: Upstream[]; notes: string[] } {
  const notes: string[] = [];
  let servers = parseResolvConf(read("/etc/resolv.conf") ?? "");
  if (servers.some((s) => s.host === "127.0.0.53")) {
    const real = parseResolvConf(read("/run/systemd/resolve/resolv.conf") ?? "");
    if (real.length > 0) {
      servers = real;
      notes.push("using systemd-resolved's upstreams (/run/systemd/resolve/resolv.conf) instead of its stub 127.0.0.53");
    }
  }
  const own = new Set(listen.map(canonicalIP));
  const kept = servers.filter((s) => !own.has(s.host));
  if (kept.length < servers.length) notes.push("skipped mesh-dns's own address in /etc/resolv.conf");
  return { upstreams: kept, notes };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

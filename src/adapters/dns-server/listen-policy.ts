// Where mesh-dns may listen. Why a policy: a forwarding resolver that answers anyone on a public address is
// an open resolver (used for amplification attacks against third parties), and a UDP socket bound to the
// wildcard address answers REDIRECTed queries from the host's own address, which clients drop (see
// src/render/capture.ts). So by default: loopback, or a private address named explicitly; the wildcard or a
// public address only with `--allow-open-resolver`.
import { isIP } from "node:net";

/** Why an address may not be listened on, or null when it may. */
export function listenProblem(address: string, allowOpen: boolean): string | null {
  const family = isIP(address);
  if (family === 0) return `--listen ${address}: not an IP address`;
  if (allowOpen) return null;
  if (family === 4 ? address === "0.0.0.0" : /^[0:]+$/.test(address)) {
    return `--listen ${address}: the wildcard address would make mesh-dns an open resolver on every interface (and UDP answers to redirected queries would leave from the wrong address); name an address, or pass --allow-open-resolver`;
  }
  if (family === 4 ? isLocalV4(address) : isLocalV6(address)) return null;
  return `--listen ${address}: a public address would make mesh-dns an open resolver; use a loopback or private address, or pass --allow-open-resolver`;
}

/** Loopback, RFC 1918, CGNAT (100.64/10) and link-local IPv4 addresses. */
function isLocalV4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split(".").map(Number);
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
}

/** ::1, unique local (fc00::/7) and link-local (fe80::/10) IPv6 addresses. */
function isLocalV6(ip: string): boolean {
  const s = ip.toLowerCase();
  return /^(0*:)*:?0*1$/.test(s) || /^f[cd]/.test(s) || /^fe[89ab]/.test(s);
}

// mesh-dns's counters: plain numbers incremented on the hot path, printed as one line.

/** What mesh-dns has done since it started. */
export interface DnsStats {
  /** Messages received (UDP datagrams and TCP frames). */
  queries: number;
  /** Of those, over TCP. */
  tcp: number;
  /** Answered from the zone: mesh names (A or NODATA) and NXDOMAIN under the mesh domain. */
  zone: number;
  /** Sent to an upstream. */
  forwarded: number;
  /** Forwarded queries that got the upstream's answer back to the client. */
  relayed: number;
  /** SERVFAIL answers: no upstream answered in time, none configured, or too many queries in flight. */
  servfail: number;
  /** FORMERR answers to malformed queries. */
  formerr: number;
  /** NOTIMP answers to opcodes other than QUERY. */
  notimp: number;
  /** Messages not answered: shorter than a header, or responses (QR=1). */
  dropped: number;
  /** UDP answers cut to header + question with TC=1 because they exceeded the client's size. */
  truncated: number;
}

/** All counters at zero. */
export function newStats(): DnsStats {
  return { queries: 0, tcp: 0, zone: 0, forwarded: 0, relayed: 0, servfail: 0, formerr: 0, notimp: 0, dropped: 0, truncated: 0 };
}

/** `queries=… tcp=… zone=… …` in a fixed order. */
export function formatStats(s: DnsStats): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

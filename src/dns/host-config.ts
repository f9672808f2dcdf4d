// The settings of mesh-dns on a VM host (`<baseDir>/mesh/dns.json`): written by the capture task
// (src/hosts/mesh-dns.ts), read by mesh-dns's host entry point (src/adapters/dns-server/host-main.ts).

/** What `dns.json` holds. */
export interface HostDnsConfig {
  env: string;
  listen: string[];
  port: number;
  domain: string;
  serviceIP: string;
  upstreams: string[];
  consul: { address: string; datacenter: string | null; tokenFile: string | null } | null;
  ttl?: number;
  upstreamTimeoutMs?: number;
}

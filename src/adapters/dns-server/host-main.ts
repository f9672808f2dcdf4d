// mesh-dns as it runs on a VM host: the entry of the one-file bundle (built by `npm run build`, or on first
// use by src/hosts/mesh-dns-bundle.ts) that amphi's capture task installs as `<baseDir>/mesh/mesh-dns.mjs`.
// Hosts have node, not amphi.
//
//   node mesh-dns.mjs <config.json>
//
// The config (`<baseDir>/mesh/dns.json`, written by the capture task): listen addresses, port, mesh domain
// and service IP, upstream resolvers (IP or IP:port), the Consul address (or null: an empty zone) and the
// name of a file holding its token, relative to the config's directory (read once at start; never logged).
// Runs the same server as `amphi dns` (runMeshDns). One log line per zone change; SIGTERM/SIGINT → exit 0.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConsulCatalog, formatUpstream, parseUpstream, redact, runMeshDns, udpIoSetting, type ServiceCatalog } from "./index.js";
import type { HostDnsConfig } from "../../dns/host-config.js";
import { DEFAULT_TTL } from "../../dns/zone.js";

/** A catalog that never has services (no Consul in the environment): the zone stays empty. */
const NO_CATALOG: ServiceCatalog = {
  watch(events, signal) {
    events.onServices([], 0);
    return new Promise((done) => (signal.aborted ? done() : signal.addEventListener("abort", () => done(), { once: true })));
  },
};

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} mesh-dns: ${line}\n`);
}

async function main(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file) {
    log("usage: node mesh-dns.mjs <config.json>");
    return 2;
  }
  const path = resolve(file);
  const cfg = JSON.parse(readFileSync(path, "utf8")) as HostDnsConfig;
  const upstreams = cfg.upstreams.map(parseUpstream);
  let catalog = NO_CATALOG;
  if (cfg.consul) {
    let token: string | null = null;
    if (cfg.consul.tokenFile) token = readFileSync(resolve(dirname(path), cfg.consul.tokenFile), "utf8").trim() || null;
    catalog = new ConsulCatalog({ address: cfg.consul.address, datacenter: cfg.consul.datacenter, token });
  }
  const stop = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stop.abort());
  const source = cfg.consul ? redact(cfg.consul.address) : "no catalog (consul not configured)";
  await runMeshDns(
    {
      zone: { serviceIP: cfg.serviceIP, domain: cfg.domain, ttl: cfg.ttl ?? DEFAULT_TTL },
      // The batched UDP addon is installed next to this program when the host's machine matches amphi's.
      server: {
        listen: cfg.listen, port: cfg.port, upstreams, upstreamTimeoutMs: cfg.upstreamTimeoutMs ?? 2000,
        udpIo: udpIoSetting(process.env.AMPHI_DNS_IO), addonPaths: [join(dirname(fileURLToPath(import.meta.url)), "udp-batch.node")],
      },
      catalog,
      log,
      onListening(bound, server, sync) {
        const where = bound.map((b) => `${b.address.includes(":") ? `[${b.address}]` : b.address}:${b.port}`).join(", ");
        const zone = sync.state === "read" ? `zone ${server.currentZone().size} services` : sync.state === "failed" ? `empty zone, catalog unreachable (${sync.error.message}), retrying` : "empty zone until the catalog answers";
        log(`listening on ${where} (udp, tcp) as uid ${process.getuid?.() ?? "?"} for ${cfg.env}: ${zone} from ${source}; mesh IP ${cfg.serviceIP}, domain ${cfg.domain}; upstreams ${upstreams.map(formatUpstream).join(", ") || "none"}`);
      },
    },
    stop.signal,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`fatal: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);

// mesh-dns as a running service: the UDP/TCP server, its upstream forwarding, and the zone kept in step
// with the service catalog. `runMeshDns` starts serving at once (with an empty zone until the catalog
// answers: host DNS is redirected here, it must never wait on Consul) and runs until the signal aborts.
import { buildZone, formatZoneChange, meshServiceNames, zoneDiff, type ZoneSettings } from "../../dns/index.js";
import type { ServiceCatalog } from "./catalog.js";
import { MeshDnsServer, type BoundAddress, type MeshDnsOptions } from "./server.js";
import { formatStats } from "./stats.js";

export { MeshDnsServer, udpIoSetting, type BoundAddress, type MeshDnsOptions } from "./server.js";
export { type UdpIoSetting } from "./udp-batch.js";
export { ConsulCatalog, redact, type CatalogEvents, type CatalogSettings, type ServiceCatalog } from "./catalog.js";
export { parseUpstream, formatUpstream, systemUpstreams, type Upstream } from "./upstreams.js";
export { listenProblem } from "./listen-policy.js";
export { formatStats, type DnsStats } from "./stats.js";

/** How the first catalog read went by the time the start-up line is printed. */
export type FirstSync = { state: "read" } | { state: "failed"; error: Error } | { state: "pending" };

/** Everything `runMeshDns` needs. */
export interface MeshDnsRun {
  zone: ZoneSettings;
  server: MeshDnsOptions;
  catalog: ServiceCatalog;
  /** One line per event (no trailing newline). */
  log(line: string): void;
  /** Called once: the sockets are bound and the first catalog read has ended (or `firstSyncMs` passed).
   * `catalogError` is the first read's failure, if it failed. */
  onListening(bound: BoundAddress[], server: MeshDnsServer, catalog: FirstSync): void;
  /** How long the start-up line waits for the first catalog read (default 2000 ms). Queries are answered
   * from the moment the sockets are bound, whatever the catalog does. */
  firstSyncMs?: number;
}

/** Serves until `signal` aborts; then closes everything and logs the counters. */
export async function runMeshDns(run: MeshDnsRun, signal: AbortSignal): Promise<void> {
  const server = new MeshDnsServer(buildZone([], run.zone), run.server);
  const bound = await server.start();
  if (server.udpIoNote !== null) run.log(server.udpIoNote);
  let started = false;
  let catalogDown = false;
  let firstEvent: (sync: FirstSync) => void = () => {};
  const first = new Promise<FirstSync>((resolve) => (firstEvent = resolve));
  const watching = run.catalog.watch(
    {
      onServices(catalogNames) {
        const { names, skipped } = meshServiceNames(catalogNames);
        const before = server.currentZone().services;
        server.setZone(buildZone(names, run.zone));
        firstEvent({ state: "read" });
        if (catalogDown) run.log("catalog: reachable again");
        catalogDown = false;
        const diff = zoneDiff(before, names);
        if (started && diff.added.length + diff.removed.length > 0) run.log(formatZoneChange(names.length, diff));
        if (skipped.length > 0) run.log(`zone: skipped ${skipped.length} service name(s) that are not DNS labels: ${skipped.slice(0, 10).join(", ")}`);
      },
      onError(err) {
        firstEvent({ state: "failed", error: err });
        // One line when it goes down, not one per retry; the last zone keeps being served.
        if (started && !catalogDown) run.log(`catalog: ${err.message}; serving the last zone (${server.currentZone().size} services), retrying`);
        catalogDown = true;
      },
    },
    signal,
  ).catch((e: unknown) => run.log(`catalog: watch ended: ${e instanceof Error ? e.message : String(e)}; serving the last zone`));
  const pending: FirstSync = { state: "pending" };
  const timeout = new Promise<FirstSync>((resolve) => setTimeout(resolve, run.firstSyncMs ?? 2000, pending).unref());
  const sync = await Promise.race([first, timeout]);
  started = true;
  run.onListening(bound, server, sync);
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
  await watching;
  await server.close();
  run.log(`stopped: ${formatStats(server.stats)}`);
}

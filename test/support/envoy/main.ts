// The Envoy test double's entry point (run by the `envoy` script next to it): Envoy's command line, a banner that
// says plainly this is not Envoy, the bootstrap, the admin interface, ADS to the control plane, and shutdown on
// SIGTERM/SIGINT or POST /quitquitquit: listeners stop accepting, open connections get up to --drain-time-s to
// finish, exit 0.
import { readFileSync, writeFileSync } from "node:fs";
import type { AdsClient } from "./ads.js";
import type { readBootstrap } from "./bootstrap.js";
import { parseArgs, UsageError } from "./cli.js";
import { configureLog, log } from "./log.js";
// The rest (the bootstrap's protos, grpc-js, the proxy) is imported once needed: `--version` and a usage error take
// 0.14 s of CPU instead of 0.38 s without it; `--mode validate` loads only the bootstrap's part. (A whole test run
// starts the double 29 times: 3 `--version`, 4 `--mode validate`, 22 serving.)

const AMPHI_VERSION = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
/** What `--version` prints and /server_info reports. */
export const DOUBLE_VERSION = `envoy-test-double/${AMPHI_VERSION} (not Envoy)`;

async function main(argv: string[]): Promise<void> {
  let o;
  try {
    o = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\nBrief USAGE: \n   envoy [--version] [-c <string>] [--service-node <string>] [--service-cluster <string>] [--base-id <uint32_t>] [-l <string>] [--log-path <string>] [--drain-time-s <uint32_t>] [--parent-shutdown-time-s <uint32_t>] [--mode <serve|validate>] [--admin-address-path <string>]\n\nFor complete USAGE and HELP type: \n   envoy --help\n\n(${DOUBLE_VERSION})\n`);
    process.exit(1);
  }
  if (o.version) {
    process.stdout.write(`\nenvoy  version: ${DOUBLE_VERSION}\n\n`);
    process.exit(0);
  }
  configureLog(o.logLevel, o.logPath);
  log("warning", "main", `THIS IS NOT ENVOY: ${DOUBLE_VERSION}, amphi's Envoy test double — it implements only the listener, route and cluster subset amphi's control plane emits`);
  if (!o.configPath) {
    log("critical", "main", "error initializing configuration '': At least one of --config-path or --config-yaml or Options::configProto() should be non-empty");
    process.exit(1);
  }
  let bootstrap;
  try {
    const { readBootstrap } = await import("./bootstrap.js");
    bootstrap = readBootstrap(o.configPath);
  } catch (err) {
    log("critical", "main", `error initializing configuration '${o.configPath}': ${(err as Error).message}`);
    process.exit(1);
  }
  if (o.serviceNode !== null) bootstrap.node.id = o.serviceNode;
  if (o.serviceCluster !== null) bootstrap.node.cluster = o.serviceCluster;
  if (o.mode === "validate") {
    process.stdout.write(`configuration '${o.configPath}' OK\n`);
    process.exit(0);
  }
  if (!bootstrap.node.id) {
    log("critical", "main", "error initializing configuration: node 'id' not set (bootstrap node.id or --service-node)");
    process.exit(1);
  }
  await serve(o, bootstrap);
}

async function serve(o: ReturnType<typeof parseArgs>, bootstrap: ReturnType<typeof readBootstrap>): Promise<void> {
  const [{ DoubleServer }, { AdsClient }, { startAdmin }] = await Promise.all([import("./proxy.js"), import("./ads.js"), import("./admin.js")]);
  const server = new DoubleServer();
  let ads: AdsClient | null = null;
  let stopping = false;
  const stop = async (why: string, drainMs: number) => {
    if (stopping) return;
    stopping = true;
    log("info", "main", `${why}: draining listeners (up to ${drainMs} ms), then exiting`);
    server.drainListeners();
    ads?.close();
    const until = Date.now() + drainMs;
    while (server.listeners.open() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    server.close();
    log("info", "main", "exiting");
    process.exit(0);
  };
  let admin;
  try {
    admin = await startAdmin({ server, ads: () => ads, bootstrap, version: DOUBLE_VERSION, startedAt: Date.now(), commandLine: { ...o }, quit: () => void stop("POST /quitquitquit", 0) });
  } catch (err) {
    log("critical", "main", (err as Error).message);
    process.exit(1);
  }
  if (o.adminAddressPath) writeFileSync(o.adminAddressPath, `${bootstrap.admin.address}:${admin.port}\n`);
  log("info", "admin", `admin address: ${bootstrap.admin.address}:${admin.port}`);
  process.on("SIGTERM", () => void stop("SIGTERM", o.drainTimeS * 1000));
  process.on("SIGINT", () => void stop("SIGINT", o.drainTimeS * 1000));
  ads = new AdsClient(`${bootstrap.xds.host}:${bootstrap.xds.port}`, bootstrap.node, server);
  ads.start();
  server.beginInit();
  log("info", "main", `node ${bootstrap.node.id} (cluster ${bootstrap.node.cluster}): ADS to ${bootstrap.xds.host}:${bootstrap.xds.port}`);
}

main(process.argv.slice(2)).catch((err) => {
  log("critical", "main", `envoy test double failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});

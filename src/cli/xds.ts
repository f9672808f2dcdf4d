// `amphi xds --env E --listen ADDR:PORT`: the xDS control plane alone. The services of the apps placed in the
// environment, their instances from Consul (blocking watches, one per service: a health change reaches the proxies
// as soon as Consul answers), the environment's traffic policy; served over gRPC ADS until SIGINT/SIGTERM.
// `--metrics-listen` adds an HTTP server for /metrics (src/server/xds-metrics.ts) and /healthz.
import type { AddressInfo } from "node:net";
import type { Command } from "@commander-js/extra-typings";
import { findEnvironment, InputError } from "../model/index.js";
import { declaredServices, hostGroupsOf, meshSettings, meshSnapshot, type MeshSnapshot, type RegisteredInstance, type SnapshotInput } from "../mesh/index.js";
import { ConsulClient, watchService, type Watch } from "../adapters/consul/index.js";
import { redact } from "../adapters/dns-server/index.js";
import { AdsServer } from "../adapters/xds/index.js";
import { renderXdsMetrics, xdsProbeServer } from "../server/xds-metrics.js";
import { repoOptions } from "./options.js";
import { EXIT, loadRepo, runAction, type Io } from "./common.js";

/** Options of `amphi xds`. */
interface XdsOptions {
  env: string;
  listen: string;
  consul?: string;
  metricsListen?: string;
  repo?: string;
  rev?: string;
  debug?: boolean;
}

/** Registers `amphi xds` on the program. */
export function xdsCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  const cmd = program
    .command("xds")
    .description("run the xDS control plane (gRPC ADS) of one environment: instances from Consul, traffic policy from the config repo")
    .requiredOption("--env <env>", "environment whose services, mesh and Consul settings to serve")
    .requiredOption("--listen <addr:port>", "address and port of the ADS server, e.g. 127.0.0.1:15010 (port 0: any free port)")
    .option("--consul <url>", "Consul HTTP API (default: the environment's consul.address)")
    .option("--metrics-listen <addr:port>", "serve GET /metrics (Prometheus) and GET /healthz over HTTP here");
  repoOptions(cmd)
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts: XdsOptions) => {
      setCode(await runAction(io, opts.debug, () => xds(io, opts, signal)));
    });
}

async function xds(io: Io, opts: XdsOptions, signal: AbortSignal): Promise<number> {
  const model = await loadRepo(io, opts);
  const env = findEnvironment(model, opts.env);
  const listen = listenAddress(opts.listen, "--listen");
  const metricsListen = opts.metricsListen === undefined ? null : listenAddress(opts.metricsListen, "--metrics-listen");
  if (!env.consul.enabled && !opts.consul) throw new InputError(`environment ${env.name} has no consul section: give --consul URL (the registry the instances come from)`);
  const log = (line: string): void => io.err(`amphi xds: ${line}\n`);
  const address = opts.consul ?? env.consul.address;
  const token = env.consul.tokenEnv ? io.env[env.consul.tokenEnv] || null : null;
  if (env.consul.tokenEnv && !token) log(`${env.consul.tokenEnv} (consul.tokenEnv) is not set: reading Consul without a token`);
  const input: Omit<SnapshotInput, "instances"> = {
    env: env.name,
    settings: meshSettings(env.mesh),
    services: declaredServices(model, env),
    policies: env.traffic,
    hostGroups: hostGroupsOf(env),
  };
  const server = new AdsServer({ log });
  const port = await server.listen(listen);
  const client = new ConsulClient({ address, token, datacenter: env.consul.datacenter });
  const feed = watchMesh(client, input, (snapshot) => server.setSnapshot(snapshot), log);
  const where = listen.replace(/:\d+$/, `:${port}`);
  log(`listening on ${where} for ${env.name}: ${input.services.length} services, instances from ${redact(address)}; answers once Consul has been read`);
  let serving = false;
  const probes = metricsListen === null ? null : await probeServer(metricsListen, () => renderXdsMetrics(server.status(), env.name), () => (signal.aborted ? "stopping" : serving ? null : "waiting for the registry"));
  if (probes) log(`metrics on http://${probes.where}/metrics, health on /healthz`);
  const stopped = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
  await Promise.race([feed.ready.then(() => signal.aborted || ((serving = true), log(`serving ${env.name}: registry read`))), stopped]);
  await stopped;
  feed.stop();
  await probes?.close();
  const { counters, nodes } = server.status();
  await server.close();
  log(`stopped: proxies=${nodes.length} pushes=${counters.pushes} nacks=${counters.nacks}`);
  return EXIT.ok;
}

/** Watches every declared service in Consul; after all answered once, each change makes a new snapshot. */
function watchMesh(client: ConsulClient, input: Omit<SnapshotInput, "instances">, onSnapshot: (s: MeshSnapshot) => void, log: (line: string) => void): { ready: Promise<void>; stop(): void } {
  const instances = new Map<string, RegisteredInstance[]>();
  let live = false;
  const publish = (): void => {
    if (live) onSnapshot(meshSnapshot({ ...input, instances }));
  };
  const watches: Watch[] = input.services.map((s) =>
    watchService(client, s.name, {
      onChange(list) {
        instances.set(s.name, list.map((i) => ({ id: i.id, address: i.address, port: i.port, tags: i.tags, meta: i.meta, passing: i.status === "passing" })));
        publish();
      },
      onError(error, retryInMs) {
        log(`consul: ${s.name}: ${error.message} (retry in ${retryInMs} ms)`);
      },
    }),
  );
  let stopped = false;
  const ready = Promise.all(watches.map((w) => w.ready)).then(() => {
    live = !stopped;
    publish();
  });
  return {
    ready,
    stop: () => {
      stopped = true;
      live = false;
      watches.forEach((w) => w.stop());
    },
  };
}

/** The environment's traffic policies (`spec.traffic`, filled by the config loader), or none. */

function listenAddress(value: string, option: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new InputError(`${option} must be ADDR:PORT (e.g. 127.0.0.1:15010), not "${value}"`);
  return value;
}

/** Starts the /metrics and /healthz server on `addr:port`; `where` is the address bound (port 0 resolved). */
async function probeServer(address: string, render: () => string, unhealthy: () => string | null): Promise<{ where: string; close(): Promise<void> }> {
  const server = xdsProbeServer(render, unhealthy);
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at).replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new InputError(`--metrics-listen ${address}: ${e.message}`)));
    server.listen(Number(address.slice(at + 1)), host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    where: `${address.slice(0, at)}:${port}`,
    close: () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      return closed;
    },
  };
}

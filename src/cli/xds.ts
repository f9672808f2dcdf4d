// `amphi xds --env E --listen ADDR:PORT`: the xDS control plane alone. The services of the apps placed in the
// environment, their instances from Consul (blocking watches, one per service: a health change reaches the proxies
// as soon as Consul answers), the traffic policy the loop applied last (ports/mesh.ts; watched, so an apply reaches
// the proxies within a second, no redeploy); served over gRPC ADS until SIGINT/SIGTERM.
// `--metrics-listen` adds an HTTP server for /metrics (src/server/xds-metrics.ts) and /healthz.
import type { AddressInfo } from "node:net";
import type { Command } from "@commander-js/extra-typings";
import { findEnvironment, InputError, type EnvironmentModel, type Model, type TrafficPolicy } from "../model/index.js";
import { catalogServices, declaredServices, hostAppsOf, hostGroupsOf, meshSettings, meshSnapshot, podNamespaces, type MeshSnapshot, type RegisteredInstance, type ServiceDecl, type SnapshotInput } from "../mesh/index.js";
import { ConsulClient, watchCatalog, watchService } from "../adapters/consul/index.js";
import { meshPolicyStoreFor, proxyStatusStoreFor } from "../adapters/state/mesh-store.js";
import type { AppliedMesh, MeshPolicyStore } from "../ports/mesh.js";
import { redact } from "../adapters/dns-server/index.js";
import { AdsServer, type XdsStatus } from "../adapters/xds/index.js";
import { renderXdsMetrics, xdsProbeServer } from "../server/xds-metrics.js";
import { parseListen, repoOptions } from "./options.js";
import { publishProxies, replicaId } from "./xds-proxies.js";
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
    .description("run the xDS control plane (gRPC ADS) of one environment: instances from Consul, the traffic policy amphi applied last")
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
  const listen = listenAddress(opts.listen);
  const metricsListen = opts.metricsListen === undefined ? null : parseListen(opts.metricsListen, "--metrics-listen", "127.0.0.1:15010");
  const log = (line: string): void => io.err(`amphi xds: ${line}\n`);
  const plane = await startControlPlane(io, model, env, { listen, consul: opts.consul, log });
  let serving = false;
  const unhealthy = (): string | null => (signal.aborted ? "stopping" : serving ? null : "waiting for the registry");
  const probes = metricsListen === null ? null : await probeServer(metricsListen, () => renderXdsMetrics(plane.status(), env.name), unhealthy);
  if (probes) log(`metrics on http://${probes.where}/metrics, health on /healthz`);
  const stopped = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
  await Promise.race([plane.ready.then(() => void (serving = true)), stopped]);
  await stopped;
  await probes?.close();
  await plane.stop();
  return EXIT.ok;
}

/** A running control plane of one environment. */
export interface ControlPlane {
  port: number;
  /** Resolves once Consul and the applied policy have been read (the first snapshot is served). */
  ready: Promise<void>;
  /** Serves the services of `model` from now on (the config a run applied). */
  follow(model: Model): void;
  /** Connected proxies, their ACKed and NACKed versions, and the counters (what /metrics shows). */
  status(): XdsStatus;
  stop(): Promise<void>;
}

/** Starts the xDS control plane of `env` on `listen`: the services of the apps placed in it (as `model` has them),
 * their instances from Consul (`consul`, or the environment's), and the traffic policy the loop applied last
 * (ports/mesh.ts: the state directory, or Consul KV with `state.backend: consul`), followed as it changes; the
 * mesh's defaults while nothing was applied. Shared by `amphi xds` and `amphi serve --xds-listen`. */
export async function startControlPlane(io: Io, model: Model, env: EnvironmentModel, opts: { listen: string; consul?: string; log: (line: string) => void }): Promise<ControlPlane> {
  const { log } = opts;
  if (!env.consul.enabled && !opts.consul) throw new InputError(`environment ${env.name} has no consul section: give --consul URL (the registry the instances come from)`);
  const address = opts.consul ?? env.consul.address;
  const token = env.consul.tokenEnv ? io.env[env.consul.tokenEnv] || null : null;
  if (env.consul.tokenEnv && !token) log(`${env.consul.tokenEnv} (consul.tokenEnv) is not set: reading Consul without a token`);
  const store = meshPolicyStoreFor(env, { cwd: io.cwd, processEnv: io.env });
  const input: Omit<SnapshotInput, "instances" | "policies"> = {
    env: env.name,
    settings: meshSettings(env.mesh, podNamespaces(env)),
    services: declaredServices(model, env),
    hostGroups: hostGroupsOf(env),
    hostApps: hostAppsOf(env),
  };
  // What it knows of its proxies goes next to the applied policy, for drift (cli/xds-proxies.ts).
  let nodesChanged = (): void => {};
  const server = new AdsServer({ log, onNodesChange: () => nodesChanged() });
  const port = await server.listen(opts.listen);
  const proxyStore = proxyStatusStoreFor(env, { cwd: io.cwd, processEnv: io.env });
  const publisher = publishProxies(proxyStore, { env: env.name, replica: replicaId(), status: () => server.status(), log });
  nodesChanged = publisher.changed;
  const client = new ConsulClient({ address, token, datacenter: env.consul.datacenter });
  const feed = watchMesh(client, store, input, (snapshot) => server.setSnapshot(snapshot), log);
  const where = opts.listen.replace(/:\d+$/, `:${port}`);
  log(`listening on ${where} for ${env.name}: ${input.services.length} services, instances from ${redact(address)}, applied traffic policy from ${store.description}, proxy status to ${proxyStore.description}; answers once Consul has been read`);
  let stopping = false;
  const ready = feed.ready.then(() => void (stopping || log(`serving ${env.name}: registry read`)));
  return {
    port,
    ready,
    // Everything the snapshot takes from the config follows it: services, mesh settings (domain, ports), host groups.
    follow: (next) => {
      const e = next.environments.find((x) => x.name === env.name);
      if (e) feed.follow({ services: declaredServices(next, e), settings: meshSettings(e.mesh, podNamespaces(e)), hostGroups: hostGroupsOf(e) });
    },
    status: () => server.status(),
    stop: async () => {
      stopping = true;
      feed.stop();
      const { counters, nodes } = server.status();
      await server.close();
      await publisher.stop();
      log(`stopped: proxies=${nodes.length} pushes=${counters.pushes} nacks=${counters.nacks}`);
    },
  };
}

/** Watches every declared service in Consul and the applied policy; after all answered once, each change makes a
 * new snapshot. `follow` takes a new config: watches for services it adds, none for those it drops, and its mesh
 * settings and host groups (a new snapshot when any of it changed). */
function watchMesh(
  client: ConsulClient,
  store: MeshPolicyStore,
  input: Omit<SnapshotInput, "instances" | "policies">,
  onSnapshot: (s: MeshSnapshot) => void,
  log: (line: string) => void,
): { ready: Promise<void>; stop(): void; follow(config: FollowedConfig): void } {
  const instances = new Map<string, RegisteredInstance[]>();
  let services = input.services;
  let settings = input.settings;
  let hostGroups = input.hostGroups;
  let policies: TrafficPolicy[] = [];
  let live = false;
  let stopped = false;
  let warned = "";
  const publish = (): void => {
    if (!live) return;
    // Services no app declares (self-registered) are destinations too, by their catalog ports.
    const declared = new Set(services.map((s) => s.name));
    const others = catalogServices(services, new Map([...instances].filter(([name]) => !declared.has(name) && selfWatches.has(name))));
    const text = others.warnings.join("\n");
    if (text !== warned && text !== "") for (const w of others.warnings) log(w);
    warned = text;
    onSnapshot(meshSnapshot({ ...input, settings, hostGroups, services: [...services, ...others.services], instances, policies }));
  };
  const watchOf = (name: string): { ready: Promise<void>; stop(): void } =>
    watchService(client, name, {
      onChange(list) {
        instances.set(name, list.map((i) => ({ id: i.id, address: i.address, port: i.port, tags: i.tags, meta: i.meta, passing: i.status === "passing" })));
        publish();
      },
      onError(error, retryInMs) {
        log(`consul: ${name}: ${error.message} (retry in ${retryInMs} ms)`);
      },
    });
  const watches = new Map(services.map((s) => [s.name, watchOf(s.name)]));
  // The catalog's names: a watch for each one no app declares and amphi did not register (tag `amphi`).
  const selfWatches = new Map<string, { ready: Promise<void>; stop(): void }>();
  let catalogNames = new Set<string>();
  const retarget = (): void => {
    const declared = new Set(services.map((s) => s.name));
    for (const [name, w] of selfWatches) {
      if (catalogNames.has(name) && !declared.has(name)) continue;
      w.stop();
      selfWatches.delete(name);
      if (!declared.has(name)) instances.delete(name);
    }
    for (const name of catalogNames) if (!declared.has(name) && !selfWatches.has(name)) selfWatches.set(name, watchOf(name));
  };
  const catalogWatch = watchCatalog(client, {
    onChange(catalog) {
      catalogNames = new Set(Object.entries(catalog).filter(([name, tags]) => name !== "consul" && !tags.includes("amphi")).map(([name]) => name));
      retarget();
      publish();
    },
    onError(error, retryInMs) {
      log(`consul: catalog: ${error.message} (retry in ${retryInMs} ms)`);
    },
  });
  const policyWatch = store.watch(
    (applied) => {
      policies = applied?.policies ?? [];
      log(appliedLine(input.env, applied));
      publish();
    },
    (e) => log(`applied traffic policy: ${e.message} (the last one read is kept)`),
  );
  const ready = Promise.all([...[...watches.values()].map((w) => w.ready), policyWatch.ready, catalogWatch.ready]).then(() => {
    live = !stopped;
    publish();
  });
  return {
    ready,
    stop: () => {
      stopped = true;
      live = false;
      policyWatch.stop();
      catalogWatch.stop();
      watches.forEach((w) => w.stop());
      selfWatches.forEach((w) => w.stop());
    },
    follow: (config) => {
      if (stopped) return;
      const sameServices = JSON.stringify(config.services) === JSON.stringify(services);
      const sameRest = JSON.stringify(config.settings) === JSON.stringify(settings) && JSON.stringify([...config.hostGroups]) === JSON.stringify([...hostGroups]);
      if (!sameRest) {
        settings = config.settings;
        hostGroups = config.hostGroups;
        log(`mesh settings of the applied config: domain ${settings.domain}, outbound port ${settings.outboundPort}, inbound port ${settings.inboundPort}, ${hostGroups.size} hosts in host groups`);
      }
      if (sameServices) {
        if (!sameRest) publish();
        return;
      }
      const next = config.services;
      const names = new Set(next.map((s) => s.name));
      for (const [name, w] of watches) {
        if (names.has(name)) continue;
        w.stop();
        watches.delete(name);
        instances.delete(name);
      }
      const added = next.filter((s) => !watches.has(s.name));
      for (const s of added) watches.set(s.name, watchOf(s.name));
      services = next;
      retarget();
      log(`services of the applied config: ${next.length}${added.length > 0 ? ` (new: ${added.map((s) => s.name).join(", ")})` : ""}`);
      publish();
    },
  };
}

/** What the snapshot takes from a config the loop applied (see ControlPlane.follow). */
interface FollowedConfig {
  services: ServiceDecl[];
  settings: SnapshotInput["settings"];
  hostGroups: SnapshotInput["hostGroups"];
}

/** What the log says of an applied policy read from the store. */
function appliedLine(env: string, applied: AppliedMesh | null): string {
  if (!applied) return `no traffic policy applied to ${env} yet: serving the mesh's defaults (every passing instance alike, no retries, timeouts or limits of amphi's) until a run applies one`;
  const services = applied.policies.map((p) => p.service).join(", ") || "none";
  return `traffic policy applied ${applied.appliedAt}${applied.revision ? ` at revision ${applied.revision.slice(0, 12)}` : ""}: ${services}`;
}

/** An ADS (or metrics) listen address as servers bind it (parseListen; `flag` names the option in the error). */
export function listenAddress(value: string, flag = "--listen"): string {
  return parseListen(value, flag, "127.0.0.1:15010").bind;
}

/** Starts the /metrics and /healthz server on `listen` (as parseListen read it); `where` is the address bound (port
 * 0 resolved). */
async function probeServer(listen: ReturnType<typeof parseListen>, render: () => string, unhealthy: () => string | null): Promise<{ where: string; close(): Promise<void> }> {
  const server = xdsProbeServer(render, unhealthy);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new InputError(`--metrics-listen ${listen.bind}: ${e.message}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    where: `${host}:${port}`,
    close: () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      return closed;
    },
  };
}

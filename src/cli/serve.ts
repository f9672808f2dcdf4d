// `amphi serve`: the GitOps loop for several environments, long-running, with an HTTP API (runs, tasks,
// metrics, webhooks) and the fleet page (/). SIGTERM/SIGINT: stop accepting, abort running cycles (their tasks end or are marked
// cancelled and the runs are saved), exit 0.
import type { Command } from "@commander-js/extra-typings";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { InputError, findEnvironment, type Model } from "../model/index.js";
import { loadModel } from "../config/index.js";
import { runGit } from "../adapters/git/run-git.js";
import { alive } from "../adapters/state/file-lock.js";
import { Reconciler, observeDeps, type CycleDeps } from "../reconcile/cycle.js";
import { HealthWatch } from "../reconcile/health-watch.js";
import { ConsulRegistryWatcher } from "../adapters/consul/watcher.js";
import { consulPodCatalog } from "../adapters/consul/pods.js";
import { KubectlPodSource } from "../adapters/kubectl/pods.js";
import { PodWatcher } from "../reconcile/pod-watch.js";
import { kubectlFor } from "./context.js";
import { ReconcileLoop, type LoopEnv } from "../reconcile/loop.js";
import { exposureWarning } from "../server/access.js";
import { apiServer } from "../server/http.js";
import { LoopMetrics } from "../server/metrics.js";
import { FleetState } from "../server/fleet.js";
import type { RepoSource } from "../sources/index.js";
import { LocalSource } from "../sources/local.js";
import { EXIT, runAction, type Io } from "./common.js";
import { listenAddress, startControlPlane, type ControlPlane } from "./xds.js";
import { parseListen } from "./options.js";
import { renderXdsMetrics } from "../server/xds-metrics.js";
import { backendsFor, cycleDeps, duration, formatResult, loopOptions, openSource, type LoopCliOptions } from "./reconcile.js";

interface ServeOptions extends LoopCliOptions {
  env?: string[];
  listen?: string;
  webhookSecretEnv?: string;
  apiTokenEnv?: string;
  xdsListen?: string;
}

/** Registers `amphi serve` on the program. */
export function serveCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  const cmd = program
    .command("serve")
    .description("run the GitOps loop for environments and serve the fleet page (/), /healthz, /metrics, /v1/runs, /v1/tasks and /v1/hooks/git")
    .option("--env <env...>", "environments to reconcile, `name` or `name:branch` (default: every environment)")
    .option("--listen <addr>", "address and port of the HTTP API (port 0: any free port)", "127.0.0.1:8080")
    .option("--interval <duration>", "time between cycles of every environment (fetch + self-heal)", "5m")
    .option("--webhook-secret-env <name>", "environment variable holding the webhook secret (without it: hooks only from loopback)")
    .option("--api-token-env <name>", "environment variable holding a bearer token that /v1/runs and /v1/tasks require from other machines (without it: only from loopback)")
    .option("--xds-listen <addr:port>", "also run the environment's xDS control plane (gRPC ADS) here: the traffic policy each run applies is pushed within a second (one --env)");
  loopOptions(cmd)
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts: ServeOptions) => {
      setCode(await runAction(io, opts.debug, () => serve(io, opts, signal)));
    });
}

async function serve(io: Io, opts: ServeOptions, signal: AbortSignal): Promise<number> {
  const { host, port } = parseListen(opts.listen ?? "127.0.0.1:8080", "--listen", "127.0.0.1:8080, [::1]:8080, :8080");
  const xdsListen = opts.xdsListen === undefined ? null : listenAddress(opts.xdsListen, "--xds-listen");
  const secret = webhookSecret(io, opts.webhookSecretEnv);
  const apiToken = apiTokenOf(io, opts.apiTokenEnv);
  const intervalMs = duration(opts.interval ?? "5m", "--interval");
  const source = await openSource(io, opts);
  const backends = backendsFor(io, opts);
  let plane: ControlPlane | null = null;
  try {
    const { envs, model: first } = await servedEnvs(source, opts, backends);
    if (xdsListen !== null) plane = await controlPlane(io, source, envs, { model: first, branch: opts.branch ?? null }, xdsListen);
    const metrics = new LoopMetrics(envs.map((e) => e.name));
    // The fleet page shows each environment's newest report (a cycle's, or the health watch's between cycles).
    const fleet = new FleetState(envs.map((e) => e.name));
    const plain = cycleDeps(io, source, opts, backends);
    const cycle: CycleDeps = {
      ...plain,
      writeReports: async (env, id, report, graph) => {
        fleet.reported(env.name, report, graph);
        await plain.writeReports?.(env, id, report, graph);
      },
    };
    // Consul health changes post statuses between cycles (see reconcile/health-watch.ts).
    const health = new HealthWatch({ registry: new ConsulRegistryWatcher(io.env), observe: observeDeps(cycle), plan: cycle.plan, log: (l) => io.err(l + "\n") });
    // Pod changes reach Consul between cycles (see reconcile/pod-watch.ts).
    const pods = new PodWatcher({ pods: new KubectlPodSource(kubectlFor(io, opts)), catalogFor: (env) => consulPodCatalog(env, io.env), log: (l) => io.err(l + "\n") });
    // The control plane serves the services of the config the last cycle applied (its policy comes from the store).
    let loaded: Model | null = null;
    const deps: CycleDeps = {
      ...cycle,
      load: async (src) => (loaded = await cycle.load(src)),
      // The pod watch is the one writer of pod registrations: a cycle's sync queues with its syncs.
      open: (model, env, snap) => ({ ...cycle.open(model, env, snap), syncPods: (signal, apply) => pods.syncNow(env, model.apps, { apply, signal }) }),
      onObserved: (o) => {
        fleet.configured(o.env, o.model.apps);
        health.observed(o);
        pods.observed(o);
      },
    };
    const loop = new ReconcileLoop(new Reconciler(deps), {
      envs, intervalMs, selfHeal: opts.selfHeal !== false, lockTimeoutMs: duration(opts.lockTimeout ?? "30s", "--lock-timeout"),
      onResult: (r) => {
        metrics.observe(r);
        io.err(formatResult(r) + "\n");
        health.cycleEnded(r.env);
        // Drift with no change in the plan is the pods' registry only: the config is applied all the same.
        const applied = r.outcome === "applied" || r.outcome === "in-sync" || (r.outcome === "drift" && r.plan !== null && r.plan.summary.create + r.plan.summary.update + r.plan.summary.delete === 0);
        if (plane && loaded && applied) plane.follow(loaded);
      },
      onProgress: (run) => metrics.progress(run),
    });
    let stopping = false;
    const server = apiServer({
      loop, metrics, secret, apiToken, log: (l) => io.err(l + "\n"), stopping: () => stopping, fleet,
      moreMetrics: plane ? () => renderXdsMetrics(plane!.status(), envs[0]!.name) : undefined,
      stores: () => backends.all().map((b) => b.store),
      runners: { host: hostname(), alive, now: () => new Date().toISOString() },
      defaultBranch: opts.branch ?? (await defaultBranch(source)),
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => reject(new InputError(`cannot listen on ${opts.listen}: ${e.message}`)));
      server.listen(port, host, resolve);
    });
    const addr = server.address() as AddressInfo;
    io.err(`amphi: serving ${envs.map((e) => e.name).join(", ")} from ${source.description} on http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}\n`);
    const exposed = exposureWarning(addr, apiToken === null ? null : opts.apiTokenEnv!, secret === null ? null : opts.webhookSecretEnv!);
    if (exposed) io.err(exposed + "\n");
    if (secret === null) io.err("amphi: no webhook secret (--webhook-secret-env): POST /v1/hooks/git is accepted only from loopback addresses\n");
    if (source.kind === "directory") io.err(`amphi: ${source.description} is not a Git repository: runs have no revision\n`);
    const watch = await source.watch(
      () => envs.forEach((e) => loop.request(e.name, "watch")),
      (e) => io.err(`amphi: watching ${source.description}: ${e.message}\n`),
    );
    loop.start();
    await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener("abort", () => r(), { once: true })));
    stopping = true;
    io.err("amphi: stopping: no new runs; running runs are cancelled and saved\n");
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    await watch.close();
    await health.stop();
    await pods.stop();
    await loop.stop();
    await plane?.stop();
    plane = null;
    server.closeAllConnections();
    await closed;
    io.err("amphi: stopped\n");
    return EXIT.ok;
  } finally {
    await plane?.stop();
    await backends.close();
    await source.close();
  }
}

/** `--xds-listen`: the control plane of the one environment served, from its config as it is now (its services;
 * the policy comes from what the loop applies): the config serve read at start (`loaded`), read again only when
 * the environment follows another branch. */
async function controlPlane(io: Io, source: RepoSource, envs: LoopEnv[], loaded: { model: Model; branch: string | null }, listen: string): Promise<ControlPlane> {
  if (envs.length !== 1) throw new InputError(`--xds-listen serves the mesh of one environment: give one --env (serving ${envs.map((e) => e.name).join(", ")})`);
  const start = (model: Model, where: string) => startControlPlane(io, model, findEnvironment(model, envs[0]!.name, where), { listen, log: (l) => io.err(`amphi xds: ${l}\n`) });
  if (envs[0]!.branch === loaded.branch) return start(loaded.model, "in the config read at start");
  const snap = await source.snapshot(envs[0]!.branch);
  try {
    return await start(await loadModel(snap.source), `in ${snap.description}`);
  } finally {
    snap.close();
  }
}

function webhookSecret(io: Io, name: string | undefined): string | null {
  if (!name) return null;
  const v = io.env[name];
  if (!v) throw new InputError(`--webhook-secret-env ${name}: the environment variable ${name} is not set or empty`);
  return v;
}

/** The API token from the variable --api-token-env names. Why the checks: a short token can be guessed over
 * the network, and one with spaces or control characters cannot travel in an Authorization header. */
function apiTokenOf(io: Io, name: string | undefined): string | null {
  if (!name) return null;
  const v = io.env[name];
  if (!v) throw new InputError(`--api-token-env ${name}: the environment variable ${name} is not set or empty`);
  if (!/^[\x21-\x7e]+$/.test(v)) throw new InputError(`--api-token-env ${name}: the token must be printable ASCII without spaces (it travels as "Authorization: Bearer <token>")`);
  if (v.length < 16) throw new InputError(`--api-token-env ${name}: the token is ${v.length} characters long; use at least 16 (e.g. openssl rand -hex 32)`);
  return v;
}

/** `--env a --env b:release`, or every environment of the config as it is now. Reading the config once
 * here also checks the names and opens the environments' state backends (for the runs API). */
async function servedEnvs(source: RepoSource, opts: ServeOptions, backends: ReturnType<typeof backendsFor>): Promise<{ envs: LoopEnv[]; model: Model }> {
  const snap = await source.snapshot(opts.branch ?? null);
  try {
    const model = await loadModel(snap.source);
    const wanted = (opts.env ?? []).map((e) => {
      const [name, branch] = e.split(":", 2) as [string, string | undefined];
      return { name, branch: branch || opts.branch || null };
    });
    const envs = wanted.length > 0 ? wanted : model.environments.map((e) => ({ name: e.name, branch: opts.branch ?? null }));
    if (envs.length === 0) throw new InputError(`no environments in ${snap.description}`);
    // An environment on a branch of its own may exist only there: it is checked when that branch is read.
    for (const e of envs) if (!e.branch || model.environments.some((x) => x.name === e.name)) backends(findEnvironment(model, e.name, `in ${snap.description}`));
    return { envs, model };
  } finally {
    snap.close();
  }
}

/** The branch environments without one follow: `main` for a remote, the checked-out branch of a local repo. */
async function defaultBranch(source: RepoSource): Promise<string> {
  if (!(source instanceof LocalSource) || !source.gitDir) return "main";
  const r = await runGit(source.dir, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
  return r.code === 0 ? r.stdout.toString("utf8").trim() : "main";
}

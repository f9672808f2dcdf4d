// `amphi reconcile --env E [--once | --interval 5m]`: the GitOps loop for one environment from a local
// directory (`--repo`, watched) or a remote (`--url`, fetched). Also the composition of the loop's
// adapters that `amphi serve` shares: sources, state backends, env sessions.
import type { Command } from "@commander-js/extra-typings";
import { join, resolve } from "node:path";
import { InputError, type EnvironmentModel } from "../model/index.js";
import { loadModel } from "../config/index.js";
import { unlockSecrets } from "../secrets/unlock.js";
import { parseDuration } from "../model/duration.js";
import { FileStateStore } from "../adapters/state/file-store.js";
import { FileEnvLocks } from "../adapters/state/file-lock.js";
import { FilePostedMemo } from "../adapters/state/posted-file.js";
import { ConsulEnvLocks, ConsulStateStore, consulPrefix } from "../adapters/state/consul-store.js";
import { consulClientFor } from "../adapters/consul/client.js";
import { reporterFor } from "../adapters/forge/index.js";
import { writeReports } from "../adapters/output/reports.js";
import { Reconciler, type Backend, type CycleDeps, type CycleResult } from "../reconcile/cycle.js";
import { ReconcileLoop } from "../reconcile/loop.js";
import { openLocalSource, RemoteSource, redactText, type RepoSource } from "../sources/index.js";
import { reachOptions } from "./options.js";
import { EXIT, printWarnings, runAction, type Io } from "./common.js";
import { envContext, handlersFor, parseHealthTimeout, syncPodsLogged } from "./context.js";
import { formatRun, progressPrinter } from "./progress.js";

/** Options shared by `reconcile` and `serve`. */
export interface LoopCliOptions {
  repo?: string;
  url?: string;
  branch?: string;
  interval?: string;
  selfHeal?: boolean;
  lockTimeout?: string;
  stateDir?: string;
  parallel?: string;
  healthTimeout?: string;
  acceptNewHostKeys?: boolean;
  kubeconfig?: string;
  forceConflicts?: boolean;
  debug?: boolean;
}

/** Registers `amphi reconcile` on the program. */
export function reconcileCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  const cmd = program
    .command("reconcile")
    .description("GitOps loop for one environment: fetch, plan, apply, wait for health, report; once or on an interval")
    .requiredOption("--env <env>", "environment to reconcile (environments/<env>.yaml)")
    .option("--once", "one cycle, then exit: 0 in sync or applied, 2 drift left (--no-self-heal), 3 some target could not be read, 1 failed")
    .option("--interval <duration>", "time between cycles (fetch + self-heal), e.g. 30s, 5m", "5m");
  loopOptions(cmd)
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(await runAction(io, opts.debug, () => reconcile(io, opts, signal)));
    });
}

/** Adds the options of the loop (source, branch, self-heal, lock, hosts) to a command. */
export function loopOptions<C extends Command>(cmd: C): C {
  cmd
    .option("--repo <dir>", "local config repo (default: current directory); in a Git repo its committed HEAD is reconciled")
    .option("--url <url>", "remote config repo to clone and fetch (credentials in the URL are never logged)")
    .option("--branch <branch>", "branch to reconcile (default: HEAD of --repo, main of --url)")
    .option("--no-self-heal", "report drift without a new commit instead of applying it")
    .option("--lock-timeout <duration>", "how long to wait while another process reconciles the environment", "30s")
    .option("--state-dir <dir>", "where remote mirrors are kept (sources/) and runs that fail before the config is read go", ".amphi")
    .option("--health-timeout <seconds>", "how long a deploy waits for its health check", "30")
    .option("--force-conflicts", "server-side apply takes over fields other field managers own");
  reachOptions(cmd, "hosts worked on at once");
  return cmd;
}

async function reconcile(io: Io, opts: LoopCliOptions & { env: string; once?: boolean }, signal: AbortSignal): Promise<number> {
  const intervalMs = opts.once ? null : duration(opts.interval ?? "5m", "--interval");
  const source = await openSource(io, opts);
  const selfHeal = opts.selfHeal !== false;
  const backends = backendsFor(io, opts);
  const reconciler = new Reconciler(cycleDeps(io, source, opts, backends));
  if (source.kind === "directory") io.err(`amphi: ${source.description} is not a Git repository: runs have no revision\n`);
  const loop = new ReconcileLoop(reconciler, {
    envs: [{ name: opts.env, branch: opts.branch ?? null }],
    intervalMs,
    selfHeal,
    lockTimeoutMs: duration(opts.lockTimeout ?? "30s", "--lock-timeout"),
    onResult: (r) => io.err(formatResult(r) + "\n"),
    onProgress: progressPrinter(io.err, false),
  });
  try {
    if (opts.once) {
      const r = await loop.request(opts.env, "once")!;
      if (!r.accepted) throw new Error("unreachable: a fresh loop is idle");
      const result = await r.done;
      if (result.run) io.out(`${formatRun(result.run)}\n`);
      return exitCode(result);
    }
    io.err(`amphi: reconciling ${opts.env} from ${source.description}${opts.branch ? ` (${opts.branch})` : ""} every ${opts.interval ?? "5m"}${selfHeal ? "" : ", self-heal off"}\n`);
    const watch = await source.watch(
      () => loop.request(opts.env, "watch"),
      (e) => io.err(`amphi: watching ${source.description}: ${e.message}\n`),
    );
    loop.start();
    await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener("abort", () => r(), { once: true })));
    await watch.close();
    await loop.stop();
    return EXIT.ok;
  } finally {
    await backends.close();
    await source.close();
  }
}

/** The exit code of a `--once` cycle. */
export function exitCode(r: CycleResult): number {
  if (r.outcome === "applied" || r.outcome === "in-sync") return EXIT.ok;
  if (r.outcome === "unknown") return EXIT.unseen;
  return r.outcome === "drift" ? EXIT.changes : EXIT.error;
}

/** One line per cycle for logs. */
export function formatResult(r: CycleResult): string {
  const rev = r.revision ? ` rev ${r.revision.slice(0, 12)}` : "";
  const run = r.run ? ` run ${r.run.id}` : "";
  return `${new Date().toISOString().slice(11, 19)} ${r.env} ${r.outcome} (${r.trigger})${rev}${run} ${(r.durationMs / 1000).toFixed(1)}s: ${r.message}`;
}

/** `--repo DIR` (default: cwd) or `--url URL`. */
export async function openSource(io: Io, opts: LoopCliOptions): Promise<RepoSource> {
  if (opts.repo && opts.url) throw new InputError("--repo and --url exclude each other");
  if (opts.url) return new RemoteSource(opts.url, resolve(io.cwd, opts.stateDir ?? ".amphi"), io.env);
  return openLocalSource(resolve(io.cwd, opts.repo ?? "."));
}

/** Parses a duration option: `500ms`, `30s`, `5m`, `1h`, or plain seconds. */
export function duration(text: string, option: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) * 1000 : parseDuration(text);
  if (ms === null || !Number.isFinite(ms) || ms < 0) throw new InputError(`${option} must be a duration like 30s or 5m, not "${text}"`);
  return ms;
}

/** The adapters one reconcile cycle uses, built from CLI options. */
export function cycleDeps(io: Io, source: RepoSource, opts: LoopCliOptions, backends = backendsFor(io, opts)): CycleDeps {
  const healthTimeoutMs = parseHealthTimeout(opts.healthTimeout);
  return {
    source,
    load: async (src) => {
      const model = await loadModel(src);
      await unlockSecrets(model, io.env, io.cwd);
      printWarnings(io, model.warnings ?? []);
      return model;
    },
    backend: backends,
    open: (model, env, snap) => {
      const ctx = envContext(io, snap.source, env, opts);
      return {
        readActual: (signal) => ctx.readActual(signal),
        handlers: handlersFor(ctx, { healthTimeoutMs, forceConflicts: opts.forceConflicts }),
        parallel: ctx.parallel,
        syncPods: (signal, apply) => syncPodsLogged(ctx, model.apps, (l) => io.err(l + "\n"), signal, apply),
        close: () => ctx.close(),
      };
    },
    reporter: (env) => reporterFor(env.status, { env: io.env, repoDir: source.repoDir }),
    writeReports: (env, id, report, graph) => writeReports(resolve(io.cwd, env.state.path, "reports"), env.name, id, report, graph),
    posted: (env) => new FilePostedMemo(resolve(io.cwd, env.state.path, "statuses")),
    clock: { now: () => new Date() },
    log: (line) => io.err(redactText(line, opts.url ? [opts.url] : []) + "\n"),
  };
}

/** State backends by environment settings, one per distinct setting (runs and locks of environments that
 * share a directory share the objects). `null` → the file backend in `--state-dir`. */
export function backendsFor(io: Io, opts: LoopCliOptions): ((env: EnvironmentModel | null) => Backend) & { all(): Backend[]; close(): Promise<void> } {
  const made = new Map<string, Backend>();
  const closers: (() => Promise<void>)[] = [];
  const file = (dir: string): Backend => {
    const key = `file:${dir}`;
    let b = made.get(key);
    if (!b) made.set(key, (b = { store: new FileStateStore(dir), locks: new FileEnvLocks(join(dir, "locks")) }));
    return b;
  };
  const pick = (env: EnvironmentModel | null): Backend => {
    if (!env) return file(resolve(io.cwd, opts.stateDir ?? ".amphi"));
    if (env.state.backend === "consul") return consul(env);
    return file(resolve(io.cwd, env.state.path));
  };
  const consul = (env: EnvironmentModel): Backend => {
    const prefix = consulPrefix(env.state.path);
    const key = `consul:${env.consul.address}:${env.consul.datacenter ?? ""}:${prefix}`;
    let b = made.get(key);
    if (!b) {
      const client = consulClientFor(env.consul, io.env);
      const locks = new ConsulEnvLocks(client, prefix);
      closers.push(() => locks.close());
      made.set(key, (b = { store: new ConsulStateStore(client, prefix), locks }));
    }
    return b;
  };
  return Object.assign(pick, { all: () => [...made.values()], close: async () => void (await Promise.all(closers.map((c) => c()))) });
}

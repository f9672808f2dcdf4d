// One reconcile of one environment: snapshot (fetch) → load → lock → read live → plan → apply (tasks
// health-gate) → commit statuses → run record. Sequences the stages; the decisions it takes are the
// loop's two rules: apply only with changes, and without self-heal apply only a new config.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { ConfigError, findEnvironment, formatProblem, type ActualState, type EnvironmentModel, type Model, type Plan, type RunRecord, type TaskRecord } from "../model/index.js";
import type { Clock, ConfigSource, StateStore } from "../ports/index.js";
import type { RepoSource, Snapshot } from "../ports/sources.js";
import { formatUnseen } from "../plan/format-text.js";
import { applyPlan, newRun } from "./apply.js";
import type { Handlers } from "./execute.js";
import { LockBusyError, type EnvLocks, type Lease } from "../ports/locks.js";
import type { StatusReporter } from "../ports/status.js";
import type { DriftReport, MeshGraphInput } from "../report/index.js";
import type { PostedMemo } from "../ports/status.js";
import { Observer, type ObserveDeps, type Observation } from "./observe.js";
import type { PodSyncResult } from "./pod-sync.js";
import { podRegistryDrift, type RegistryDrift } from "../health/index.js";
import { planDesired, planLive, type Planner } from "./pipeline.js";

/** Why a cycle runs. Explicit triggers (api, webhook: someone holds the run ID) always record a run, even
 * with nothing to do; the others record one only when they apply (a cron `--once` in sync leaves no trace). */
export type Trigger = "start" | "interval" | "watch" | "webhook" | "api" | "once";

/** How a cycle ended. `drift`: changes found but not applied (self-heal off, no new config). `unknown`: some
 * target could not be read, so the cycle cannot tell whether the environment is in sync (whatever it applied
 * to the targets it saw succeeded); it never reads as in sync. */
export type Outcome = "applied" | "in-sync" | "drift" | "unknown" | "failed" | "cancelled" | "busy" | "error";

/** Live access to one environment's targets for one cycle. */
export interface EnvSession {
  readActual(signal: AbortSignal): Promise<ActualState>;
  handlers: Handlers;
  parallel: number;
  /** Syncs the environment's ready pods into the registry — or, with `apply` false, only decides what a sync
   * would change (registry drift of pods). Logs what it wrote; never rejects: null when pods are not synced
   * here (no Consul, no clusters) or the registry could not be read (logged). */
  syncPods?(signal: AbortSignal, apply: boolean): Promise<PodSyncResult | null>;
  close(): Promise<void>;
}

/** Where an environment's runs and locks are kept. */
export interface Backend {
  store: StateStore;
  locks: EnvLocks;
}

/** What a cycle needs; built by the CLI. */
export interface CycleDeps {
  source: RepoSource;
  load(source: ConfigSource): Promise<Model>;
  /** Replaces the pipeline's diff → plan step (tests); default: planDesired. */
  plan?: Planner;
  /** The env's state backend (same objects for the same settings); `null` → the default one. */
  backend(env: EnvironmentModel | null): Backend;
  open(model: Model, env: EnvironmentModel, snapshot: Snapshot): EnvSession;
  /** Where an environment's commit statuses go (from its `status` settings), or null. */
  reporter?: (env: EnvironmentModel) => StatusReporter | null;
  /** Writes a cycle's drift report (JSON, Markdown, HTML) under the ID of its run or cycle. */
  writeReports?: (env: EnvironmentModel, id: string, report: DriftReport, graph?: MeshGraphInput) => Promise<void>;
  /** Where the statuses last posted for an environment are remembered across processes. */
  posted?: (env: EnvironmentModel) => PostedMemo | null;
  clock: Clock;
  log(line: string): void;
  /** Told each observation a cycle reports (the model, the desired and actual state, the plan): how `serve`'s
   * health watch learns what to re-observe when the registry changes. */
  onObserved?(o: Observation): void;
}

/** What observing needs, from a cycle's dependencies (the cycle's and the health watch's Observers share
 * their memory of what was posted through the same `reporter`). */
export function observeDeps(deps: CycleDeps): ObserveDeps {
  return { reporter: deps.reporter, writeReports: deps.writeReports, posted: deps.posted, now: () => deps.clock.now(), log: deps.log };
}

/** One cycle to run. */
export interface CycleRequest {
  env: string;
  /** Branch of a remote or local repo (null: HEAD / `main`). */
  branch: string | null;
  trigger: Trigger;
  runId: string;
  selfHeal: boolean;
  lockTimeoutMs: number;
  signal: AbortSignal;
  onProgress?: (run: RunRecord, task: TaskRecord | null) => void;
}

/** What a cycle did. */
export interface CycleResult {
  env: string;
  trigger: Trigger;
  outcome: Outcome;
  revision: string | null;
  run: RunRecord | null;
  plan: Plan | null;
  message: string;
  startedAt: Date;
  durationMs: number;
}

/** Runs cycles; remembers per environment the config it last applied (to tell a new config from drift),
 * and the environment as the last config that loaded defined it (where a config error's statuses go). */
export class Reconciler {
  private readonly applied = new Map<string, string>();
  private readonly lastGood = new Map<string, EnvironmentModel>();
  private readonly observer: Observer;

  constructor(private readonly deps: CycleDeps) {
    this.observer = new Observer(observeDeps(deps));
  }

  /** Runs one cycle. Never throws: failures are an outcome with a message (and a failed run when recorded). */
  async run(req: CycleRequest): Promise<CycleResult> {
    const startedAt = this.deps.clock.now();
    const t0 = Date.now();
    const out = (o: Omit<CycleResult, "env" | "trigger" | "startedAt" | "durationMs">): CycleResult => ({ env: req.env, trigger: req.trigger, startedAt, durationMs: Date.now() - t0, ...o });
    let snap: Snapshot | null = null;
    let lease: Lease | null = null;
    let env: EnvironmentModel | null = null;
    // The snapshot last read, kept past its close: a config error is reported on the revision that has it.
    const seen: Seen = { revision: null, description: null };
    try {
      let model: Model;
      ({ snap, model, env } = await this.load(req, seen));
      lease = await this.deps.backend(env).locks.acquire(req.env, { timeoutMs: req.lockTimeoutMs, signal: req.signal });
      if (lease.waitedMs > 0) {
        // Another process applied meanwhile, maybe a newer commit: read the source again, never an older one.
        snap.close();
        ({ snap, model, env } = await this.load(req, seen));
      }
      return out(await this.reconcile(req, snap, model, env, lease));
    } catch (e) {
      const busy = e instanceof LockBusyError;
      const message = e instanceof ConfigError ? configMessage(e) : (e as Error).message;
      const last = this.lastGood.get(req.env) ?? null;
      if (e instanceof ConfigError) await this.observer.configError({ env: req.env, last, revision: seen.revision, error: e });
      const run = explicit(req.trigger) ? await this.failedRun(req, env ?? last, seen, message) : null;
      return out({ outcome: busy ? "busy" : req.signal.aborted ? "cancelled" : "error", revision: snap?.revision ?? seen.revision, run, plan: null, message });
    } finally {
      await lease?.release().catch((e: Error) => this.deps.log(`amphi: releasing the lock of ${req.env} failed: ${e.message}`));
      snap?.close();
    }
  }

  private async load(req: CycleRequest, seen: Seen): Promise<{ snap: Snapshot; model: Model; env: EnvironmentModel }> {
    const snap = await this.deps.source.snapshot(req.branch, req.signal);
    seen.revision = snap.revision;
    seen.description = snap.description;
    try {
      const model = await this.deps.load(snap.source);
      const env = findEnvironment(model, req.env, `in ${snap.description}`);
      this.lastGood.set(req.env, env);
      return { snap, model, env };
    } catch (e) {
      snap.close();
      throw e;
    }
  }

  private async reconcile(req: CycleRequest, snap: Snapshot, model: Model, env: EnvironmentModel, lease: Lease): Promise<Omit<CycleResult, "env" | "trigger" | "startedAt" | "durationMs">> {
    const signal = AbortSignal.any([req.signal, lease.lost]);
    const { store } = this.deps.backend(env);
    const session = this.deps.open(model, env, snap);
    // With self-heal off, a cycle of an old config changes nothing outside: not the targets, not the registry.
    let mayWrite = req.selfHeal || explicit(req.trigger);
    let podsSynced = false;
    try {
      const planner = this.deps.plan ?? planDesired;
      const { desired, actual, plan } = await planLive(model, req.env, () => session.readActual(signal), { plan: planner });
      // The pod sync runs once per cycle, just before the report, which names what it left (or, when the cycle
      // may not write, what it would change) as registry drift of the pods' rows.
      const observe = async (id: string, after: ActualState | null) => {
        const pods = await syncPods(mayWrite);
        const o: Observation = { model, env, desired, actual: after ?? actual, plan: after ? planner(model, req.env, after, desired) : plan, revision: snap.revision, id, pods };
        this.deps.onObserved?.(o);
        await this.observer.report(o);
        return pods;
      };
      const syncPods = async (apply: boolean): Promise<RegistryDrift[]> => {
        if (!session.syncPods || signal.aborted) return [];
        podsSynced ||= apply;
        const r = await session.syncPods(signal, apply);
        return r ? podRegistryDrift(apply ? { steps: r.failed.map((f) => f.step), kept: r.plan.kept } : r.plan) : [];
      };
      const s = plan.summary;
      const changes = s.create + s.update + s.delete;
      const fingerprint = snap.revision ?? digest(model);
      const isNew = (await this.lastApplied(store, req.env)) !== fingerprint;
      const apply = changes > 0 && (req.selfHeal || isNew) && !signal.aborted;
      mayWrite ||= isNew;
      const base = { revision: snap.revision, plan };
      // Unseen targets: the config is not known to be applied there, so it is not remembered as applied.
      const blind = plan.unknown.length > 0 ? formatUnseen(plan) : null;
      if (!apply && !explicit(req.trigger)) {
        if (changes === 0 && !blind) this.applied.set(req.env, fingerprint);
        const seen = blind ? "unknown" : changes === 0 ? "in-sync" : "drift";
        const pods = await observe(`${req.runId}-${seen}`, null);
        // Pods the registry has wrong (and this cycle could not or might not fix) are drift too.
        const outcome = seen === "in-sync" && pods.length > 0 ? "drift" : seen;
        const message = [blind, changes === 0 ? (blind ? null : pods.length > 0 ? null : "in sync") : driftMessage(plan), podsMessage(pods)].filter(Boolean).join("; ");
        return { ...base, outcome, run: null, message };
      }
      const run = newRun(req.runId, plan, snap.description, this.deps.clock.now());
      await store.saveRun(run);
      let done = apply
        ? await applyPlan(model, plan, desired, run, { handlers: session.handlers, store, clock: this.deps.clock, parallel: session.parallel, signal, onProgress: req.onProgress })
        : await this.emptyRun(store, run, changes === 0 ? (blind ? "nothing to change on the targets seen" : "in sync: nothing to change") : driftMessage(plan));
      if (done.state === "succeeded" && (apply || changes === 0) && !blind) this.applied.set(req.env, fingerprint);
      if (blind) {
        done = { ...done, message: `${done.message}; ${blind}` };
        await store.saveRun(done);
      }
      // Observe what the run left (health, registry) when it changed something; else the first read holds.
      const pods = await observe(done.id, apply ? await session.readActual(signal).catch(() => null) : null);
      const seen = apply ? "applied" : changes === 0 ? (pods.length > 0 ? "drift" : "in-sync") : "drift";
      const outcome = done.state === "succeeded" ? (blind ? "unknown" : seen) : done.state === "cancelled" ? "cancelled" : "failed";
      return { ...base, outcome, run: done, message: [done.message, podsMessage(pods)].filter(Boolean).join("; ") };
    } finally {
      // Once per cycle that may write, also when it ended before its report: pods that became ready (or went)
      // since are in the registry as such.
      if (!signal.aborted && mayWrite && !podsSynced) await session.syncPods?.(signal, true);
      await session.close();
    }
  }

  /** The config last applied to `env`: remembered, else the revision of its newest succeeded run. */
  private async lastApplied(store: StateStore, env: string): Promise<string | null> {
    const known = this.applied.get(env);
    if (known !== undefined) return known;
    const runs = await store.listRuns({ env, limit: 50 });
    // A run that applied tasks, or one that found nothing to change (not one that only reported drift).
    const s = (r: RunRecord): number => r.summary.create + r.summary.update + r.summary.delete;
    // Not one that could not see every target: the config may still be missing there.
    return runs.find((r) => r.state === "succeeded" && r.summary.unknown === 0 && (r.tasks.length > 0 || s(r) === 0))?.revision ?? null;
  }

  private async emptyRun(store: StateStore, run: RunRecord, message: string): Promise<RunRecord> {
    const now = this.deps.clock.now().toISOString();
    const done: RunRecord = { ...run, state: "succeeded", startedAt: now, endedAt: now, message };
    await store.saveRun(done);
    return done;
  }

  private async failedRun(req: CycleRequest, env: EnvironmentModel | null, snap: Seen, message: string): Promise<RunRecord | null> {
    const now = this.deps.clock.now().toISOString();
    const summary = { create: 0, update: 0, delete: 0, unchanged: 0, unknown: 0 };
    const run: RunRecord = {
      apiVersion: "amphi.dev/v1", kind: "Run", id: req.runId, env: req.env, revision: snap.revision, source: snap.description ?? this.deps.source.description,
      state: req.signal.aborted ? "cancelled" : "failed", createdAt: now, startedAt: now, endedAt: now, summary, message, pid: process.pid, host: hostname(), tasks: [],
    };
    try {
      await this.deps.backend(env).store.saveRun(run);
      return run;
    } catch (e) {
      this.deps.log(`amphi: ${req.env}: recording run ${req.runId} failed: ${(e as Error).message}`);
      return run;
    }
  }
}

/** What a cycle last read of its source (revision and description outlive the snapshot). */
interface Seen {
  revision: string | null;
  description: string | null;
}

/** Whether a trigger asks for a recorded run (someone holds its ID). */
export function explicit(trigger: Trigger): boolean {
  return trigger === "api" || trigger === "webhook";
}

/** `pods: 2 registry items (web/shop.web-1-8080 missing, …)`, or null for none. */
function podsMessage(pods: readonly RegistryDrift[]): string | null {
  if (pods.length === 0) return null;
  const first = pods.slice(0, 2).map((d) => `${d.service}/${d.id} ${d.kind}`).join(", ");
  return `pods: ${pods.length} registry item${pods.length === 1 ? "" : "s"} (${first}${pods.length > 2 ? ", …" : ""})`;
}

function driftMessage(plan: Plan): string {
  const s = plan.summary;
  return `drift not applied (self-heal off): ${s.create} to create, ${s.update} to update, ${s.delete} to delete`;
}

function configMessage(e: ConfigError): string {
  const errors = e.problems.filter((p) => p.severity === "error");
  return `${errors.length} config problem${errors.length === 1 ? "" : "s"}; nothing applied: ${errors.slice(0, 3).map(formatProblem).join("; ")}`;
}

/** A plain directory has no commit: its config is identified by what it says. */
function digest(model: Model): string {
  return `sha256:${createHash("sha256").update(JSON.stringify({ apps: model.apps, environments: model.environments })).digest("hex")}`;
}

// After a cycle: observe the environment again, build its drift report (written as JSON, Markdown and
// HTML by the caller's writer) and post one commit status per app, and `amphi/<env>` for the whole
// environment (error while a target cannot be seen), on the revision — only when the
// statuses differ from the last ones posted for that environment, so an interval loop does not post the
// same status every few minutes.
import type { ActualState, ConfigError, DesiredState, EnvironmentModel, Model, Plan } from "../model/index.js";
import type { CommitStatus, PostedMemo, StatusReporter } from "../ports/status.js";
import { buildDriftReport, meshGraphInput, type DriftReport, type MeshGraphInput } from "../report/index.js";
import type { RegistryDrift } from "../health/index.js";
import { appContext, envStatus, envStatusContext, statusesFor, truncateDescription } from "../health/status.js";

/** What observing needs from the cycle's dependencies. */
export interface ObserveDeps {
  reporter?: (env: EnvironmentModel) => StatusReporter | null;
  /** `graph`: the environment's mesh graph for the HTML file (absent when it could not be built). */
  writeReports?: (env: EnvironmentModel, id: string, report: DriftReport, graph?: MeshGraphInput) => Promise<void>;
  /** Where the last post of an environment is remembered across processes (see PostedMemo). */
  posted?: (env: EnvironmentModel) => PostedMemo | null;
  now(): Date;
  log(line: string): void;
}

export type { PostedMemo } from "../ports/status.js";

/** One cycle's observation: the state read after apply (or before, when nothing was applied). */
export interface Observation {
  model: Model;
  env: EnvironmentModel;
  /** The environment as rendered for the cycle (once: plan, apply and report share it). */
  desired: DesiredState;
  actual: ActualState;
  plan: Plan;
  revision: string | null;
  /** Run ID, or a cycle ID for cycles that record no run. */
  id: string;
  /** Registry drift of the environment's pods (what the cycle's pod sync left or would change). */
  pods?: readonly RegistryDrift[];
}

/** A config that failed to load on a revision, and the environment as the last good config defined it. */
export interface ConfigFailure {
  env: string;
  /** The environment of the last config that loaded (its status settings and apps), or null: none yet. */
  last: EnvironmentModel | null;
  revision: string | null;
  error: ConfigError;
}

// What was posted, per reporter factory: observers that post through the same `reporter` (a cycle's and
// `amphi serve`'s health watch, see health-watch.ts) share it, so each sees the other's last post.
const postedBy = new WeakMap<object, Map<string, string>>();

/** Remembers the statuses last posted per environment and revision (shared by observers built with the
 * same `deps.reporter` function). */
export class Observer {
  private readonly posted: Map<string, string>;

  constructor(private readonly deps: ObserveDeps) {
    const key = deps.reporter;
    let posted = key ? postedBy.get(key) : undefined;
    if (!posted) {
      posted = new Map();
      if (key) postedBy.set(key, posted);
    }
    this.posted = posted;
  }

  /** Builds and writes the report, then posts statuses when they changed. Never throws. */
  async report(o: Observation): Promise<DriftReport | null> {
    try {
      const report = buildDriftReport({ desired: o.desired, actual: o.actual, plan: o.plan, revision: o.revision, now: this.deps.now(), pods: o.pods });
      if (this.deps.writeReports) await this.deps.writeReports(o.env, o.id, report, this.graph(o, report));
      await this.post(o, report);
      return report;
    } catch (e) {
      this.deps.log(`amphi: ${o.env.name}: report failed: ${(e as Error).message}`);
      return null;
    }
  }

  /** The mesh graph of the report's files; a graph that cannot be built costs the picture, not the report. */
  private graph(o: Observation, report: DriftReport): MeshGraphInput | undefined {
    try {
      return meshGraphInput(o.model, o.env.name, { report, actual: o.actual });
    } catch (e) {
      this.deps.log(`amphi: ${o.env.name}: mesh graph left out of the report: ${(e as Error).message}`);
      return undefined;
    }
  }

  private async post(o: Observation, report: DriftReport): Promise<void> {
    const reporter = this.deps.reporter?.(o.env);
    if (!reporter || !o.revision) return;
    const base = o.env.status.reportUrl?.replace(/\/+$/, "");
    const opts = base ? { targetUrl: `${base}/${o.env.name}/${o.id}.html` } : {};
    const apps = statusesFor(report, opts);
    await this.send(reporter, o.env.name, o.revision, [envStatus(report, apps, opts), ...apps], this.deps.posted?.(o.env) ?? null);
  }

  /** Posts `error` on the revision whose config failed to load: on `amphi/<env>` and on every app of the
   * environment as the last good config had it, through that config's status settings (the failed one's
   * cannot be read). Without a last good config there is no reporter: logged. Never throws. */
  async configError(f: ConfigFailure): Promise<void> {
    if (!f.revision) return;
    if (!f.last) {
      this.deps.log(`amphi: ${f.env}: config error on ${f.revision.slice(0, 12)} not posted as a status: no earlier config of ${f.env} loaded (its status settings are unknown)`);
      return;
    }
    try {
      const reporter = this.deps.reporter?.(f.last);
      if (!reporter) return;
      const description = configErrorDescription(f.error);
      const apps = [...new Set(f.last.placements.map((p) => p.app))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const contexts = [envStatusContext(f.env), ...apps.map((app) => appContext(f.env, app))];
      await this.send(reporter, f.env, f.revision, contexts.map((context) => ({ context, state: "error", description })));
    } catch (e) {
      this.deps.log(`amphi: ${f.env}: config error status failed: ${(e as Error).message}`);
    }
  }

  // Posts unless the same statuses were posted for this environment and revision already (by this process,
  // or by an earlier one, as `memo` remembers).
  private async send(reporter: StatusReporter, env: string, revision: string, statuses: CommitStatus[], memo: PostedMemo | null = null): Promise<void> {
    const key = `${env}@${revision}`;
    const text = JSON.stringify(statuses.map(({ targetUrl: _url, ...s }) => s));
    if (this.posted.get(key) === text) return;
    const last = await memo?.get(env).catch(() => null);
    if (last?.key === key && last.text === text) return void this.posted.set(key, text);
    const results = await reporter.post(revision, statuses);
    const failed = results.filter((r) => !r.ok);
    for (const r of failed) this.deps.log(`amphi: ${env}: status ${r.context} not posted: ${r.error}`);
    if (failed.length > 0) return;
    this.posted.set(key, text);
    await memo?.set(env, { key, text }).catch((e: Error) => this.deps.log(`amphi: ${env}: remembering the statuses posted failed: ${e.message}`));
  }
}

/** `config error: <file>:<line>:<col>: <message>` of the first error (`(+n more)` when there are more),
 * at most 140 characters: the location comes first so that a cut keeps it. */
export function configErrorDescription(e: ConfigError): string {
  const errors = e.problems.filter((p) => p.severity === "error");
  const first = errors[0];
  if (!first) return truncateDescription(`config error: ${e.message}`);
  const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : "";
  return truncateDescription(`config error${more}: ${first.file}:${first.line}:${first.column}: ${first.message}`);
}

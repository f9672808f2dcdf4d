// After a cycle: observe the environment again, build its drift report (written as JSON, Markdown and
// HTML by the caller's writer) and post one commit status per app on the revision — only when the
// statuses differ from the last ones posted for that environment, so an interval loop does not post the
// same status every few minutes.
import type { ActualState, EnvironmentModel, Model, Plan } from "../model/index.js";
import type { StatusReporter } from "../ports/status.js";
import { render } from "../render/index.js";
import { buildDriftReport, type DriftReport } from "../report/index.js";
import { statusesFor } from "../health/status.js";

/** What observing needs from the cycle's dependencies. */
export interface ObserveDeps {
  plan(model: Model, env: string, actual: ActualState): Plan;
  reporter?: (env: EnvironmentModel) => StatusReporter | null;
  writeReports?: (env: EnvironmentModel, id: string, report: DriftReport) => Promise<void>;
  now(): Date;
  log(line: string): void;
}

/** One cycle's observation: the state read after apply (or before, when nothing was applied). */
export interface Observation {
  model: Model;
  env: EnvironmentModel;
  actual: ActualState;
  plan: Plan;
  revision: string | null;
  /** Run ID, or a cycle ID for cycles that record no run. */
  id: string;
}

/** Remembers the statuses last posted per environment and revision. */
export class Observer {
  private readonly posted = new Map<string, string>();

  constructor(private readonly deps: ObserveDeps) {}

  /** Builds and writes the report, then posts statuses when they changed. Never throws. */
  async report(o: Observation): Promise<DriftReport | null> {
    try {
      const report = buildDriftReport({ desired: render(o.model, o.env.name), actual: o.actual, plan: o.plan, revision: o.revision, now: this.deps.now() });
      await this.deps.writeReports?.(o.env, o.id, report);
      await this.post(o, report);
      return report;
    } catch (e) {
      this.deps.log(`amphi: ${o.env.name}: report failed: ${(e as Error).message}`);
      return null;
    }
  }

  private async post(o: Observation, report: DriftReport): Promise<void> {
    const reporter = this.deps.reporter?.(o.env);
    if (!reporter || !o.revision) return;
    const base = o.env.status.reportUrl?.replace(/\/+$/, "");
    const statuses = statusesFor(report, base ? { targetUrl: `${base}/${o.env.name}/${o.id}.html` } : {});
    const key = `${o.env.name}@${o.revision}`;
    const text = JSON.stringify(statuses.map(({ targetUrl: _url, ...s }) => s));
    if (this.posted.get(key) === text) return;
    const results = await reporter.post(o.revision, statuses);
    const failed = results.filter((r) => !r.ok);
    for (const r of failed) this.deps.log(`amphi: ${o.env.name}: status ${r.context} not posted: ${r.error}`);
    if (failed.length === 0) this.posted.set(key, text);
  }
}

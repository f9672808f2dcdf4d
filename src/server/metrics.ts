// Prometheus metrics of the loop, kept in memory and written in the text exposition format (0.0.4):
//   amphi_runs_total{env,result}                   counter   cycles by outcome (applied, in-sync, drift, failed, …)
//   amphi_run_duration_seconds{env}                histogram cycle wall time (fetch → report)
//   amphi_drift_items{env,kind}                    gauge     steps of the latest plan by kind (create, update, delete, unknown)
//   amphi_tasks{state}                             gauge     tasks of each environment's latest run by state
//   amphi_last_successful_revision_info{env,revision} gauge  1 for the revision last applied or found in sync
//   amphi_last_run_timestamp_seconds{env}          gauge     end of the latest cycle (Unix seconds)
import { TASK_STATES, type RunRecord } from "../model/index.js";
import type { CycleResult, Outcome } from "../reconcile/cycle.js";

const BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];
const RESULTS: Outcome[] = ["applied", "in-sync", "drift", "unknown", "failed", "cancelled", "busy", "error"];
const DRIFT_KINDS = ["create", "update", "delete", "unknown"] as const;

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** The loop's metrics. */
export class LoopMetrics {
  private readonly runs = new Map<string, number>();
  private readonly durations = new Map<string, Histogram>();
  private readonly drift = new Map<string, Record<(typeof DRIFT_KINDS)[number], number>>();
  private readonly latestRun = new Map<string, RunRecord>();
  private readonly lastGood = new Map<string, string>();
  private readonly lastRun = new Map<string, number>();

  constructor(private readonly envs: string[]) {}

  /** Counts a finished cycle. */
  observe(r: CycleResult): void {
    const key = `${r.env}\u0000${r.outcome}`;
    this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
    const h = this.durations.get(r.env) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    const s = r.durationMs / 1000;
    BUCKETS.forEach((b, i) => {
      if (s <= b) h.counts[i]!++;
    });
    h.sum += s;
    h.count++;
    this.durations.set(r.env, h);
    if (r.plan) {
      const p = r.plan.summary;
      this.drift.set(r.env, r.outcome === "applied" ? { create: 0, update: 0, delete: 0, unknown: p.unknown } : { create: p.create, update: p.update, delete: p.delete, unknown: p.unknown });
    }
    if (r.run) this.latestRun.set(r.env, r.run);
    if ((r.outcome === "applied" || r.outcome === "in-sync") && r.revision) this.lastGood.set(r.env, r.revision);
    this.lastRun.set(r.env, (r.startedAt.getTime() + r.durationMs) / 1000);
  }

  /** Follows a running run (task states change while it runs). */
  progress(run: RunRecord): void {
    this.latestRun.set(run.env, run);
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    const family = (name: string, type: MetricType, help: string): void => metricFamily(out, name, type, help);
    family("amphi_runs_total", "counter", "Reconcile cycles by environment and result.");
    for (const env of this.envs) for (const result of RESULTS) out.push(`amphi_runs_total${labels({ env, result })} ${this.runs.get(`${env}\u0000${result}`) ?? 0}`);
    family("amphi_run_duration_seconds", "histogram", "Wall time of a reconcile cycle (fetch, plan, apply, health, report).");
    for (const env of this.envs) {
      const h = this.durations.get(env) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      BUCKETS.forEach((b, i) => out.push(`amphi_run_duration_seconds_bucket${labels({ env, le: String(b) })} ${h.counts[i]}`));
      out.push(`amphi_run_duration_seconds_bucket${labels({ env, le: "+Inf" })} ${h.count}`);
      out.push(`amphi_run_duration_seconds_sum${labels({ env })} ${num(h.sum)}`, `amphi_run_duration_seconds_count${labels({ env })} ${h.count}`);
    }
    family("amphi_drift_items", "gauge", "Changes the latest plan found and did not apply, by kind (unknown: targets not read).");
    for (const env of this.envs) for (const kind of DRIFT_KINDS) out.push(`amphi_drift_items${labels({ env, kind })} ${this.drift.get(env)?.[kind] ?? 0}`);
    family("amphi_tasks", "gauge", "Tasks of each environment's latest run, by state.");
    const tasks = [...this.latestRun.values()].flatMap((r) => r.tasks);
    for (const state of TASK_STATES) out.push(`amphi_tasks${labels({ state })} ${tasks.filter((t) => t.state === state).length}`);
    family("amphi_last_successful_revision_info", "gauge", "The config revision last applied or found in sync (value 1).");
    for (const [env, revision] of this.lastGood) out.push(`amphi_last_successful_revision_info${labels({ env, revision })} 1`);
    family("amphi_last_run_timestamp_seconds", "gauge", "When the latest reconcile cycle ended (Unix time).");
    for (const [env, t] of this.lastRun) out.push(`amphi_last_run_timestamp_seconds${labels({ env })} ${num(t)}`);
    return out.join("\n") + "\n";
  }
}

/** The kinds of metric families amphi exposes. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Appends the `# HELP` and `# TYPE` lines that open a metric family to `out`. */
export function metricFamily(out: string[], name: string, type: MetricType, help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** `{a="x",b="y"}` with values escaped as the text format wants (backslash, quote, newline). */
export function labels(l: Record<string, string>): string {
  const body = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return `{${body.join(",")}}`;
}

/** A sample value: integers as they are, others with three decimals. */
export function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}

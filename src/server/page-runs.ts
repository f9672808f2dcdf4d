// The run timeline of the fleet page: recent runs, newest first, each linking to /v1/runs/:id, with its tasks
// as bars on the run's time axis (where each started, how long it took), their results and durations. Pure.
import type { RunRecord, TaskRecord } from "../model/index.js";
import { escapeHtml } from "../report/index.js";

/** Tasks a run shows on the page at most. */
export const MAX_TASKS = 100;

/** The timeline section's body for `runs` (already newest first and limited). */
export function runsHtml(runs: readonly RunRecord[], now: Date): string {
  if (runs.length === 0) return '<p class="muted">No runs recorded yet.</p>';
  return `<ol class="runs">${runs.map((r) => runHtml(r, now)).join("\n")}</ol>`;
}

function runHtml(run: RunRecord, now: Date): string {
  const start = time(run.startedAt) ?? time(run.createdAt) ?? now.getTime();
  const end = time(run.endedAt) ?? Math.max(start, now.getTime());
  const span = Math.max(end - start, 1);
  const s = run.summary;
  const counts = `${s.create} create · ${s.update} update · ${s.delete} delete${s.unknown > 0 ? ` · ${s.unknown} unknown` : ""}`;
  // A run of thousands of tasks would make the page heavy: the first ones here, all of them at /v1/runs/:id.
  const more = run.tasks.length - MAX_TASKS;
  const tasks = run.tasks.slice(0, MAX_TASKS).map((t) => taskHtml(t, start, span, now)).join("") +
    (more > 0 ? `<tr><td colspan="7" class="muted">${more} more task${more === 1 ? "" : "s"}: see <a href="/v1/runs/${encodeURIComponent(run.id)}">/v1/runs/${escapeHtml(run.id)}</a></td></tr>` : "");
  const id = escapeHtml(run.id);
  return [
    `<li class="run r-${run.state}" data-run="${id}">`,
    `<div class="rh"><a href="/v1/runs/${encodeURIComponent(run.id)}"><code>${id}</code></a> <b>${escapeHtml(run.env)}</b> <span class="state">${run.state}</span> `,
    `<span class="muted">${escapeHtml(run.createdAt)} · ${run.endedAt || run.startedAt ? duration(end - start) : "not started"} · ${counts}${run.revision ? ` · <code>${escapeHtml(run.revision.slice(0, 12))}</code>` : ""}</span></div>`,
    `<div class="muted msg">${escapeHtml(run.message)}</div>`,
    run.tasks.length > 0
      ? `<details${run.tasks.length <= 8 ? " open" : ""}><summary>${run.tasks.length} task${run.tasks.length === 1 ? "" : "s"}</summary><table class="tasks"><thead><tr><th>task</th><th>kind</th><th>target</th><th>app</th><th>state</th><th>took</th><th>timeline</th></tr></thead><tbody>${tasks}</tbody></table></details>`
      : "",
    "</li>",
  ].join("");
}

function taskHtml(t: TaskRecord, runStart: number, span: number, now: Date): string {
  const s = time(t.startedAt);
  const e = time(t.endedAt) ?? (s === null ? null : now.getTime());
  const took = s === null || e === null ? "–" : duration(e - s);
  const left = s === null ? 0 : clamp(((s - runStart) / span) * 100);
  const width = s === null || e === null ? 0 : Math.max(clamp(((e - s) / span) * 100), 0.5);
  const state = t.state === "succeeded" && t.result ? `${t.state} (${t.result})` : t.state;
  const bar = s === null ? '<span class="muted">not started</span>' : `<div class="track"><div class="bar t-${t.state}" style="margin-left:${left.toFixed(1)}%;width:${width.toFixed(1)}%"></div></div>`;
  return `<tr class="t-${t.state}" data-task="${escapeHtml(t.id)}" title="${escapeHtml(t.message)}"><td><code>${escapeHtml(t.id)}</code></td><td>${escapeHtml(t.kind)}</td><td>${escapeHtml(t.target)}</td><td>${escapeHtml(t.app ?? "–")}</td><td>${escapeHtml(state)}</td><td>${took}</td><td class="tl">${bar}</td></tr>`;
}

function time(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

function clamp(pct: number): number {
  return Math.min(100, Math.max(0, pct));
}

/** `850 ms`, `12.4 s`, `3 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Style of the timeline (added to the page's). */
export const RUNS_CSS = `
ol.runs{list-style:none;padding:0;margin:0}
li.run{border:1px solid #d1d9e0;border-left:5px solid #818b98;border-radius:6px;padding:6px 10px;margin:0 0 8px}
li.r-succeeded{border-left-color:#1a7f37}li.r-failed,li.r-abandoned{border-left-color:#cf222e}li.r-running,li.r-queued{border-left-color:#bf8700}
.run .state{font-weight:600}.run .msg{font-size:13px}
table.tasks{width:100%;table-layout:fixed;font-size:12px}
table.tasks td{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.tasks td.tl{width:30%}
.track{background:#f6f8fa;height:10px;border-radius:3px}
.bar{height:10px;border-radius:3px;background:#818b98}
.bar.t-succeeded{background:#1a7f37}.bar.t-failed,.bar.t-abandoned{background:#cf222e}.bar.t-running{background:#bf8700}
tr.t-failed td{background:#ffebe9}
`.trim();

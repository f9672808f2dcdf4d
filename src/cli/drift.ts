// `amphi drift --env E [--actual FILE] [--format text|json|markdown|html] [--out FILE]`: live clusters, hosts
// and Consul registry vs the config, per app × target, in one report. Exit 0 when every row is in sync,
// 2 when something drifted, 3 when something could not be read (wins over 2), 1 on error.
import type { Command } from "@commander-js/extra-typings";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { InputError, type ActualState } from "../model/index.js";
import { planLive } from "../reconcile/pipeline.js";
import { buildDriftReport, meshGraphInput, type MeshGraphInput, formatDriftHtml, formatDriftJson, formatDriftMarkdown, formatDriftSummary, formatDriftText, type DriftReport } from "../report/index.js";
import { reachOptions, repoOptions } from "./options.js";
import { EXIT, loadRepoWithSource, pickFormat, runAction, warnLockedSecrets, type Io } from "./common.js";
import { actualFor } from "./actual.js";
import { envContext, findEnv, type HostOptions } from "./context.js";
import { podRegistryDrift, type RegistryDrift } from "../health/index.js";
import type { ConfigSource } from "../ports/index.js";
import type { Model } from "../model/index.js";

const FORMATS = ["text", "json", "markdown", "html"] as const;
type Format = (typeof FORMATS)[number];

/** Registers `amphi drift` on the program. */
export function driftCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const cmd = program
    .command("drift")
    .description("report live clusters, hosts and Consul against the config: sync status, health and drift per app × target")
    .requiredOption("--env <env>", "environment to report on (environments/<env>.yaml)")
    .option("--actual <file>", "actual state as JSON or YAML instead of reading it live (see README: ActualState)")
    .option("--format <format>", "text | json | markdown | html (one self-contained file)", "text")
    .option("--out <file>", "write the report to this file (atomically) and print only the summary line");
  reachOptions(repoOptions(cmd), "hosts read at once")
    .option("--progress-timeout <seconds>", "how long a Deployment may stay unavailable before it counts as degraded", "600")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const format = pickFormat(opts.format, FORMATS, "text");
          const progressTimeoutMs = seconds(opts.progressTimeout, "--progress-timeout") * 1000;
          const { model, source } = await loadRepoWithSource(io, opts);
          warnLockedSecrets(io, model, opts.env);
          const { desired, actual, plan } = await planLive(model, opts.env, (rendered) => actualFor(io, model, source, opts, rendered));
          const { pods, podsUnread } = opts.actual ? {} : await podDrift(io, model, source, opts);
          const report = buildDriftReport({ desired, actual, plan, revision: model.revision, now: new Date(), progressTimeoutMs, pods, podsUnread });
          const text = formatReport(report, format, format === "html" ? graphOrNone(() => meshGraphInput(model, opts.env, { report, actual }), io) : undefined);
          if (opts.out) {
            await writeAtomically(resolve(io.cwd, opts.out), text);
            io.out(`${formatDriftSummary(report)} Written to ${opts.out} (${format}).\n`);
          } else io.out(text);
          return report.summary.unknown > 0 ? EXIT.unseen : inSync(report) ? EXIT.ok : EXIT.changes;
        }),
      );
    });
}

/** Registry drift of the environment's pods (live only): what a pod sync would change, and what kept it from
 * being compared (Consul or a cluster's pods not read), which the report shows as unknown: a failed read here
 * must not leave a report that looks in sync, even when the observation before it read them. */
async function podDrift(io: Io, model: Model, source: ConfigSource, opts: HostOptions & { env: string }): Promise<{ pods: RegistryDrift[]; podsUnread: { object: string; detail: string }[] }> {
  const ctx = envContext(io, source, findEnv(model, opts.env), opts);
  try {
    const r = await ctx.syncPods(model.apps, { apply: false });
    if (!r) return { pods: [], podsUnread: [] };
    const podsUnread = r.unreadable.map((u) => ({ object: `pod registrations of cluster ${u.cluster}`, detail: `not compared: ${u.reason}` }));
    return { pods: podRegistryDrift(r.plan), podsUnread };
  } catch (e) {
    return { pods: [], podsUnread: [{ object: "pod registrations", detail: `not compared: ${(e as Error).message}` }] };
  } finally {
    await ctx.close();
  }
}

/** Whether every row is in sync (nothing drifted, missing, unexpected or unreadable). */
export function inSync(report: DriftReport): boolean {
  return report.summary.drifted === 0 && report.summary.unknown === 0;
}

/** The report in one of the `--format`s; the HTML one ends with the mesh graph when `graph` is given. */
export function formatReport(report: DriftReport, format: Format, graph?: MeshGraphInput): string {
  if (format === "json") return formatDriftJson(report);
  if (format === "markdown") return formatDriftMarkdown(report);
  return format === "html" ? formatDriftHtml(report, graph) : formatDriftText(report);
}

// Why atomic: `amphi serve` or a web server may hand the file out while a new report is written.
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    throw new InputError(`cannot write the report to ${path}: ${(e as Error).message}`);
  }
}

function seconds(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${flag} must be a positive number of seconds, not "${value}"`);
  return n;
}

/** The report's mesh graph, or none with a warning: a graph that cannot be built costs the picture, not the report
 * (as in the cycles' report files). */
function graphOrNone(build: () => MeshGraphInput, io: Io): MeshGraphInput | undefined {
  try {
    return build();
  } catch (e) {
    io.err(`amphi: mesh graph left out of the report: ${(e as Error).message}\n`);
    return undefined;
  }
}

// `amphi plan --env E [--actual FILE]`: desired vs actual → ordered steps; exit 2 when there are changes.
// PR mode (`--base REV [--head REV]`): only the apps the change touches (see reconcile/pr-scope.ts), the
// status `amphi/plan/<env>` on the head commit, and `--comment-file` with the Markdown plan.
import type { Command } from "@commander-js/extra-typings";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError, findEnvironment, type EnvironmentModel, type Plan } from "../model/index.js";
import { formatPlanJson, formatPlanMarkdown, formatPlanText, formatUnseen } from "../plan/format.js";
import { formatScope } from "../reconcile/pr-scope.js";
import { planLive } from "../reconcile/pipeline.js";
import { planStatus, truncateDescription } from "../health/status.js";
import type { StatusReporter } from "../ports/status.js";
import { loadPrScope } from "./pr.js";
import { unlockSecrets } from "../secrets/unlock.js";
import { reachOptions, repoOptions } from "./options.js";
import { EXIT, loadRepoWithSource, pickFormat, printWarnings, runAction, warnLockedSecrets, type Io } from "./common.js";
import type { HostOptions } from "./context.js";
import { actualFor } from "./actual.js";

const FORMATS = ["text", "json", "markdown"] as const;

/** What `plan` may be given besides options: where PR-mode statuses go (the environment's `status`
 * provider, loaded when needed; tests give none or a double). */
export interface PlanDeps {
  reporter?: (env: EnvironmentModel, repoDir: string) => StatusReporter | null | Promise<StatusReporter | null>;
}

/** Registers `amphi plan` on the program. */
export function planCommand(program: Command, io: Io, setCode: (code: number) => void, deps: PlanDeps = {}): void {
  const cmd = program
    .command("plan")
    .description("show what apply would change in one environment, across clusters, hosts and Consul")
    .requiredOption("--env <env>", "environment to plan (environments/<env>.yaml)")
    .option("--actual <file>", "actual state as JSON or YAML instead of reading it live (see README: ActualState)")
    .option("--format <format>", "text | json | markdown", "text");
  reachOptions(repoOptions(cmd), "hosts read at once")
    .option("--base <rev>", "PR mode: plan only what changed between this revision and --head (apps, placements, dependents)")
    .option("--head <rev>", "PR mode: the revision under review (default: HEAD)")
    .option("--comment-file <file>", "PR mode: also write the plan as Markdown for a pull-request comment")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          if (opts.base !== undefined || opts.head !== undefined || opts.commentFile !== undefined) return planPr(io, opts, deps);
          const format = pickFormat(opts.format, FORMATS, "text");
          const { model, source } = await loadRepoWithSource(io, opts);
          warnLockedSecrets(io, model, opts.env);
          const { plan } = await planLive(model, opts.env, (desired) => actualFor(io, model, source, opts, desired));
          io.out(format === "json" ? formatPlanJson(plan) : format === "markdown" ? formatPlanMarkdown(plan) : formatPlanText(plan));
          return planExit(io, plan);
        }),
      );
    });
}

/** The exit code of a plan: 3 when something could not be read (said on stderr; it wins over changes, whose
 * list is incomplete then), else 2 with changes, else 0. */
export function planExit(io: Io, plan: Plan): number {
  if (plan.unknown.length > 0) {
    io.err(`amphi: ${plan.env}: ${formatUnseen(plan)}\n`);
    return EXIT.unseen;
  }
  return hasChanges(plan) ? EXIT.changes : EXIT.ok;
}

/** Whether a plan would change anything. */
export function hasChanges(plan: Plan): boolean {
  return plan.summary.create + plan.summary.update + plan.summary.delete > 0;
}

/** Options of `plan` that PR mode reads. */
interface PrOptions extends HostOptions {
  env: string;
  repo?: string;
  rev?: string;
  actual?: string;
  format?: string;
  base?: string;
  head?: string;
  commentFile?: string;
}

// PR mode: plan the scope of base..head against live state (or --actual), post the plan status on the
// head commit, write the comment file. Exit codes as plan: 0 no changes, 2 changes, 3 unseen targets, 1 error.
async function planPr(io: Io, opts: PrOptions, deps: PlanDeps): Promise<number> {
  const format = pickFormat(opts.format, FORMATS, "text");
  if (opts.base === undefined) throw new InputError("--head and --comment-file need --base (PR mode)");
  if (opts.rev !== undefined) throw new InputError("--rev and --base/--head exclude each other (PR mode reads --head)");
  const pr = await loadPrScope(resolve(io.cwd, opts.repo ?? "."), opts.base, opts.head ?? "HEAD", opts.env);
  await unlockSecrets(pr.model, io.env, io.cwd);
  warnLockedSecrets(io, pr.model, opts.env);
  const { model, source, scope } = pr;
  printWarnings(io, model.warnings ?? []);
  io.err(`amphi: PR mode ${pr.baseSha.slice(0, 12)}..${pr.headSha.slice(0, 12)}: planning ${formatScope(scope)}\n`);
  const { plan } = await planLive(model, opts.env, (desired) => actualFor(io, model, source, opts, desired), { scope });
  io.out(format === "json" ? formatPlanJson(plan) : format === "markdown" ? formatPlanMarkdown(plan) : formatPlanText(plan));
  if (opts.commentFile) {
    const head = `### amphi plan · \`${opts.env}\` · \`${pr.baseSha.slice(0, 7)}\`..\`${pr.headSha.slice(0, 7)}\`\n\nIn scope: ${formatScope(scope)}\n\n`;
    await writeFile(resolve(io.cwd, opts.commentFile), head + formatPlanMarkdown(plan));
  }
  const reporter = (await deps.reporter?.(findEnvironment(model, opts.env), pr.repoDir)) ?? null;
  if (reporter) {
    const base = planStatus(plan);
    const inScope = scope.all ? "all apps" : `${scope.apps.size} app${scope.apps.size === 1 ? "" : "s"} in scope`;
    const status = { ...base, description: truncateDescription(`${base.description} · ${inScope}`) };
    for (const r of await reporter.post(pr.headSha, [status])) if (!r.ok) io.err(`amphi: status ${r.context} not posted: ${r.error}\n`);
  }
  return planExit(io, plan);
}

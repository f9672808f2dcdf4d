// `amphi plan --env E [--actual FILE]`: desired vs actual → ordered steps; exit 2 when there are changes.
import type { Command } from "@commander-js/extra-typings";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError, type ActualState, type Model, type Plan } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { render } from "../render/index.js";
import { diff } from "../diff/index.js";
import { parseActualState } from "../diff/actual-file.js";
import { buildPlan } from "../plan/index.js";
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from "../plan/format.js";
import { readLiveActual } from "../reconcile/actual.js";
import { EXIT, loadRepoWithSource, pickFormat, runAction, type Io } from "./common.js";
import { envContext, findEnv, type HostOptions } from "./context.js";

const FORMATS = ["text", "json", "markdown"] as const;

/** Registers `amphi plan` on the program. */
export function planCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  program
    .command("plan")
    .description("show what apply would change in one environment, across clusters, hosts and Consul")
    .requiredOption("--env <env>", "environment to plan (environments/<env>.yaml)")
    .option("--actual <file>", "actual state as JSON or YAML instead of reading it live (see README: ActualState)")
    .option("--format <format>", "text | json | markdown", "text")
    .option("--repo <dir>", "config repo directory (default: current directory)")
    .option("--rev <rev>", "read this Git revision of the repo instead of the working tree")
    .option("--parallel <n>", "hosts read at once", "10")
    .option("--accept-new-host-keys", "trust and record host keys of hosts not yet in known_hosts")
    .option("--kubeconfig <file>", "kubeconfig for the clusters' contexts (default: KUBECONFIG or ~/.kube/config)")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const format = pickFormat(opts.format, FORMATS, "text");
          const { model, source } = await loadRepoWithSource(io, opts);
          findEnv(model, opts.env);
          const actual = opts.actual ? await readActualFile(io, opts.actual, opts.env) : await readLive(io, model, source, opts.env, opts);
          const plan = planEnvironment(model, opts.env, actual);
          io.out(format === "json" ? formatPlanJson(plan) : format === "markdown" ? formatPlanMarkdown(plan) : formatPlanText(plan));
          return hasChanges(plan) ? EXIT.changes : EXIT.ok;
        }),
      );
    });
}

/** Whether a plan would change anything. */
export function hasChanges(plan: Plan): boolean {
  return plan.summary.create + plan.summary.update + plan.summary.delete > 0;
}

/** The pure pipeline behind `plan`: render → diff → order. */
export function planEnvironment(model: Model, envName: string, actual: ActualState): Plan {
  const env = findEnv(model, envName);
  const desired = render(model, envName);
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  return buildPlan(diff(desired, actual, { ignore: env.ignoreDifferences }), deps, model.revision);
}

/** Reads the live actual state of an environment through its host sessions. */
export async function readLive(io: Io, model: Model, source: ConfigSource, envName: string, opts: HostOptions): Promise<ActualState> {
  const ctx = envContext(io, source, findEnv(model, envName), opts);
  try {
    return await readLiveActual(ctx.env, { connector: ctx.connector, hosts: ctx.hosts, now: () => ctx.clock.now().toISOString(), parallel: ctx.parallel, kubectl: ctx.kubectl, processEnv: ctx.processEnv });
  } finally {
    await ctx.close();
  }
}

/** Reads `--actual FILE`. */
async function readActualFile(io: Io, file: string, envName: string): Promise<ActualState> {
  const path = resolve(io.cwd, file);
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read actual state ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  return parseActualState(text, file, envName);
}

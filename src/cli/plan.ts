// `amphi plan --env E [--actual FILE]`: desired vs actual → ordered steps; exit 2 when there are changes.
import type { Command } from "@commander-js/extra-typings";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError, type ActualState, type Model, type Plan } from "../model/index.js";
import { render } from "../render/index.js";
import { diff } from "../diff/index.js";
import { parseActualState } from "../diff/actual-file.js";
import { buildPlan } from "../plan/index.js";
import { formatPlanJson, formatPlanMarkdown, formatPlanText } from "../plan/format.js";
import { EXIT, loadRepo, pickFormat, runAction, type Io } from "./common.js";

const FORMATS = ["text", "json", "markdown"] as const;

/** Registers `amphi plan` on the program. */
export function planCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  program
    .command("plan")
    .description("show what apply would change in one environment, across clusters, hosts and Consul")
    .requiredOption("--env <env>", "environment to plan (environments/<env>.yaml)")
    .option("--actual <file>", "actual state as JSON or YAML (see README: ActualState)")
    .option("--format <format>", "text | json | markdown", "text")
    .option("--repo <dir>", "config repo directory (default: current directory)")
    .option("--rev <rev>", "read this Git revision of the repo instead of the working tree")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const format = pickFormat(opts.format, FORMATS, "text");
          const model = await loadRepo(io, opts);
          const actual = await readActual(io, opts.actual, opts.env);
          const plan = planEnvironment(model, opts.env, actual);
          const text = format === "json" ? formatPlanJson(plan) : format === "markdown" ? formatPlanMarkdown(plan) : formatPlanText(plan);
          io.out(text);
          const changed = plan.summary.create + plan.summary.update + plan.summary.delete;
          return changed > 0 ? EXIT.changes : EXIT.ok;
        }),
      );
    });
}

/** The pure pipeline behind `plan`: render → diff → order. */
export function planEnvironment(model: Model, envName: string, actual: ActualState): Plan {
  const env = model.environments.find((e) => e.name === envName);
  const desired = render(model, envName);
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  return buildPlan(diff(desired, actual, { ignore: env?.ignoreDifferences ?? [] }), deps, model.revision);
}

/** Reads `--actual FILE`, or starts from nothing when it is not given. */
async function readActual(io: Io, file: string | undefined, envName: string): Promise<ActualState> {
  if (!file) {
    // Why say it: an empty actual state plans every resource as a create; the user should know the
    // plan is not against live state.
    io.err("amphi: no --actual file given: planning against an empty actual state\n");
    return { env: envName, observedAt: null, resources: [], unreachable: [] };
  }
  const path = resolve(io.cwd, file);
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read actual state ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  });
  return parseActualState(text, file, envName);
}

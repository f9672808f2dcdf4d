// `amphi demo`: the main job on the embedded default — the example config repo shipped with amphi.
// Validates it, renders every environment under --out, and prints each environment's plan.
import type { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { render, renderFiles } from "../render/index.js";
import { writeOutDir } from "../adapters/output/files.js";
import { formatPlanText } from "../plan/format.js";
import { EXAMPLE_REPO, EXIT, loadRepo, runAction, type Io } from "./common.js";
import { planEnvironment } from "./plan.js";

/** Registers `amphi demo` on the program. */
export function demoCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  program
    .command("demo")
    .description("run amphi on its example config repo: validate, render every environment, plan")
    .option("--repo <dir>", "config repo to use instead of the embedded example", EXAMPLE_REPO)
    .option("--out <dir>", "where rendered files go", ".amphi/demo")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const model = await loadRepo(io, { repo: opts.repo });
          io.out(`validated ${model.source}: ${model.apps.length} apps, ${model.environments.length} environments\n`);
          for (const env of model.environments) {
            const out = resolve(io.cwd, opts.out, env.name);
            const files = renderFiles(render(model, env.name));
            await writeOutDir(out, files, ["clusters", "hostgroups"]);
            io.out(`\nrendered ${env.name}: ${files.map((f) => f.path).join(", ")} → ${out}\n`);
            const empty = { env: env.name, observedAt: null, resources: [], unreachable: [] };
            io.out(formatPlanText(planEnvironment(model, env.name, empty)));
          }
          return EXIT.ok;
        }),
      );
    });
}

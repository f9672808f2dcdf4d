// `amphi demo`: the main job on the embedded default — the example config repo shipped with amphi.
// Validates it, renders every environment, applies the `local` environment (hosts on this machine,
// file state in .amphi/), and plans it again to show that nothing is left to do.
import type { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { render, renderFiles } from "../render/index.js";
import { writeOutDir } from "../adapters/output/files.js";
import { formatPlanText } from "../plan/format.js";
import { EXAMPLE_REPO, EXIT, loadRepoWithSource, runAction, type Io } from "./common.js";
import { run } from "./main.js";
import { planEnvironment, readLive } from "./plan.js";
import { envContext, findEnv } from "./context.js";
import { probe } from "../hosts/probe.js";
import { undeploy } from "../hosts/tasks.js";
import type { Model } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";

/** Registers `amphi demo` on the program. */
export function demoCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal): void {
  program
    .command("demo")
    .description("run amphi on its example config repo: validate, render, apply the local environment, plan again")
    .option("--repo <dir>", "config repo to use instead of the embedded example", EXAMPLE_REPO)
    .option("--env <env>", "environment to apply (its hosts must be local or reachable)", "local")
    .option("--out <dir>", "where rendered files go", ".amphi/demo")
    .option("--down", "undeploy every app the demo left running on the environment's hosts, then stop")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const { model, source } = await loadRepoWithSource(io, { repo: opts.repo });
          if (opts.down) return down(io, model, source, opts.env);
          io.out(`validated ${model.source}: ${model.apps.length} apps, ${model.environments.length} environments\n`);
          for (const env of model.environments) {
            const out = resolve(io.cwd, opts.out, env.name);
            const files = renderFiles(render(model, env.name));
            await writeOutDir(out, files, ["clusters", "hostgroups"]);
            io.out(`rendered ${env.name}: ${files.map((f) => f.path).join(", ")} → ${out}\n`);
          }
          io.out(`\napplying ${opts.env}:\n`);
          const code = await run(["apply", "--env", opts.env, "--repo", opts.repo, "--yes"], io, signal);
          if (code !== EXIT.ok) return code;
          const again = planEnvironment(model, opts.env, await readLive(io, model, source, opts.env, {}));
          io.out(`\nplan of ${opts.env} after apply:\n${formatPlanText(again)}`);
          return EXIT.ok;
        }),
      );
    });
}

// Stops what the demo started: every app recorded on every host of the environment is undeployed.
async function down(io: Io, model: Model, source: ConfigSource, envName: string): Promise<number> {
  const ctx = envContext(io, source, findEnv(model, envName), {});
  try {
    for (const ref of ctx.hosts.values()) {
      const session = await ctx.connector.open(ref);
      const tctx = { session, env: envName, now: () => new Date().toISOString(), log: () => {} };
      for (const app of Object.keys((await probe(tctx)).state.apps)) {
        const out = await undeploy(tctx, app);
        io.out(`${ref.group}/${ref.host}: ${out.message}\n`);
      }
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

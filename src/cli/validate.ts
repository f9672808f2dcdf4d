// `amphi validate`: load the config repo, report every problem, exit 1 if there is one.
import type { Command } from "@commander-js/extra-typings";
import { ConfigError, formatProblem } from "../model/index.js";
import { repoOptions } from "./options.js";
import { EXIT, loadRepo, pickFormat, runAction, type Io } from "./common.js";

/** Registers `amphi validate` on the program. */
export function validateCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const cmd = program
    .command("validate")
    .description("check the config repo: schemas, cross-file rules; every problem at once");
  repoOptions(cmd)
    .option("--format <format>", "text | json", "text")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const format = pickFormat(opts.format, ["text", "json"] as const, "text");
          const model = await loadRepo(io, opts).catch((e: unknown) => {
            // JSON consumers (CI bots) get the problems on stdout as data; text users get them on stderr.
            if (format !== "json" || !(e instanceof ConfigError)) throw e;
            const problems = e.problems.map((p) => ({ ...p, text: formatProblem(p) }));
            io.out(JSON.stringify({ valid: false, problems }, null, 2) + "\n");
            return null;
          });
          if (model === null) return EXIT.error;
          const envs = model.environments.map((e) => e.name);
          if (format === "json") {
            io.out(JSON.stringify({ valid: true, source: model.source, revision: model.revision, apps: model.apps.map((a) => a.name), environments: envs }, null, 2) + "\n");
          } else {
            io.out(`${model.source}: ${model.apps.length} apps, ${envs.length} environments (${envs.join(", ")}) — valid\n`);
          }
          return EXIT.ok;
        }),
      );
    });
}

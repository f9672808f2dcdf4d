// `amphi render --env E [--out DIR]`: the desired state of one environment as files.
import type { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import type { ActualState } from "../model/index.js";
import { maskSecrets } from "../runtimes/secrets.js";
import { RENDER_FOLDERS, render, renderFiles } from "../render/index.js";
import { writeOutDir } from "../adapters/output/files.js";
import { repoOptions } from "./options.js";
import { EXIT, loadRepo, runAction, type Io } from "./common.js";

/** Registers `amphi render` on the program. */
export function renderCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const cmd = program
    .command("render")
    .description("render one environment: Kubernetes manifests per cluster, host instances and capture rules per host group")
    .requiredOption("--env <env>", "environment to render (environments/<env>.yaml)")
    .option("--out <dir>", "write clusters/<cluster>.yaml, hostgroups/<group>.yaml and mesh/<env>.yaml here (default: print to stdout)")
    .option("--as-actual", "print the desired state as an ActualState JSON document (a starting point for --actual files)");
  repoOptions(cmd)
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const model = await loadRepo(io, opts);
          const desired = render(model, opts.env);
          if (opts.asActual) {
            // Secret values masked as in plans: this output is meant to be saved and edited as an --actual file.
            const actual: ActualState = { env: desired.env, observedAt: null, resources: desired.resources.map(maskSecrets), unreachable: [] };
            io.out(JSON.stringify(actual, null, 2) + "\n");
            return EXIT.ok;
          }
          const files = renderFiles(desired);
          if (!opts.out) {
            // Helm-style: every file as documents after a `# Source:` comment.
            for (const f of files) io.out(`---\n# Source: ${f.path}\n${f.content}${f.content.endsWith("\n") ? "" : "\n"}`);
            return EXIT.ok;
          }
          const dir = resolve(io.cwd, opts.out);
          const { written, removed } = await writeOutDir(dir, files, [...RENDER_FOLDERS]);
          for (const p of written) io.err(`wrote ${opts.out}/${p}\n`);
          for (const p of removed) io.err(`removed stale ${opts.out}/${p}\n`);
          return EXIT.ok;
        }),
      );
    });
}

// `amphi demo`: the main job on the embedded default — the example config repo shipped with amphi.
// Validates it and renders every environment, then runs one reconcile of the `local` environment the way
// production does: from a committed revision of a Git copy of the example (.amphi/demo/repo), applied to
// hosts on this machine, runs in .amphi/runs, drift reports in .amphi/reports, git-notes statuses on the
// commit. A second run finds everything in sync.
import type { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { RENDER_FOLDERS, render, renderFiles } from "../render/index.js";
import { writeOutDir } from "../adapters/output/files.js";
import { formatPlanText } from "../plan/format.js";
import { EXAMPLE_REPO, EXIT, loadRepoWithSource, runAction, type Io } from "./common.js";
import { readLive } from "./actual.js";
import { planLive } from "../reconcile/pipeline.js";
import { envContext, findEnv } from "./context.js";
import { probe } from "../hosts/probe.js";
import { readNote, syncDemoRepo } from "../adapters/git/demo-repo.js";
import type { StatusNote } from "../adapters/forge/git-notes.js";
import { undeploy } from "../hosts/tasks.js";
import { DEFAULT_LOCK_TIMEOUT, lockEnv, type EnvLock } from "./lock.js";
import { duration } from "./reconcile.js";
import type { Model } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";

/** Runs one amphi command line (`run` of main.ts), handed in by the composition root. */
export type RunCommand = (argv: string[], io: Io, signal: AbortSignal) => Promise<number>;

/** Registers `amphi demo` on the program; `run` runs the reconcile it ends with as `amphi reconcile --once`
 * would. */
export function demoCommand(program: Command, io: Io, setCode: (code: number) => void, signal: AbortSignal, run: RunCommand): void {
  program
    .command("demo")
    .description("run amphi's main job on its example config repo: validate, render, reconcile the local environment once")
    .option("--repo <dir>", "config files to use instead of the embedded example (copied into a Git repo)", EXAMPLE_REPO)
    .option("--env <env>", "environment to apply (its hosts must be local or reachable)", "local")
    .option("--out <dir>", "where rendered files go", ".amphi/demo")
    .option("--down", "undeploy every app the demo left running on the environment's hosts, then stop")
    .option("--debug", "print stack traces of unexpected errors")
    .action(async (opts) => {
      setCode(
        await runAction(io, opts.debug, async () => {
          const { model, source } = await loadRepoWithSource(io, { repo: opts.repo });
          if (opts.down) return down(io, model, source, opts.env, signal);
          io.out(`validated ${model.source}: ${model.apps.length} apps, ${model.environments.length} environments\n`);
          for (const env of model.environments) {
            const out = resolve(io.cwd, opts.out, env.name);
            const files = renderFiles(render(model, env.name));
            await writeOutDir(out, files, [...RENDER_FOLDERS]);
            io.out(`rendered ${env.name}: ${files.map((f) => f.path).join(", ")} → ${out}\n`);
          }
          const repo = resolve(io.cwd, opts.out, "repo");
          const sha = await syncDemoRepo(opts.repo, repo);
          io.out(`\nreconciling ${opts.env} from ${repo} at ${sha.slice(0, 12)}:\n`);
          const code = await run(["reconcile", "--env", opts.env, "--once", "--repo", repo], io, signal);
          if (code !== EXIT.ok) return code;
          const { plan: again } = await planLive(model, opts.env, () => readLive(io, model, source, opts.env, {}));
          io.out(`\nplan of ${opts.env} now:\n${formatPlanText(again)}`);
          const note = await readNote(repo, sha);
          if (note) io.out(`\ncommit statuses on ${sha.slice(0, 12)} (git notes --ref amphi show ${sha.slice(0, 12)}, in ${repo}):\n${summarizeNote(note)}`);
          io.out(`drift report: ${resolve(io.cwd, findEnv(model, opts.env).state.path, "reports", opts.env, "latest.html")}\n`);
          return EXIT.ok;
        }),
      );
    });
}

// Stops what the demo started: every app recorded on every host of the environment is undeployed.
async function down(io: Io, model: Model, source: ConfigSource, envName: string, signal: AbortSignal): Promise<number> {
  const ctx = envContext(io, source, findEnv(model, envName), {});
  let lock: EnvLock | null = null;
  try {
    lock = await lockEnv(io, ctx.env, duration(DEFAULT_LOCK_TIMEOUT, "--lock-timeout"), signal);
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
    await lock?.release();
    await ctx.close();
  }
}

// One line per status of the note: `amphi/local/billing  success  1/1 healthy`.
function summarizeNote(note: string): string {
  try {
    const doc = JSON.parse(note) as StatusNote;
    return doc.statuses.map((st) => `  ${st.context.padEnd(28)} ${st.state.padEnd(8)} ${st.description}\n`).join("");
  } catch {
    return note;
  }
}

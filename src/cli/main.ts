// amphi's composition root: builds the command tree, runs one command, returns its exit code.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { EXIT, processIo, type Io } from "./common.js";
import { validateCommand } from "./validate.js";
import { renderCommand } from "./render.js";
import { planCommand } from "./plan.js";
import { reporterFor } from "../adapters/forge/index.js";
import { demoCommand } from "./demo.js";
import { applyCommand } from "./apply.js";
import { tasksCommand } from "./tasks.js";
import { dnsCommand } from "./dns.js";
import { driftCommand } from "./drift.js";
import { reconcileCommand } from "./reconcile.js";
import { serveCommand } from "./serve.js";
import { xdsCommand } from "./xds.js";
import { secretCommand } from "./secret.js";

/** The version printed by `amphi --version`. */
export const VERSION = "0.1.0";

/** Runs amphi with `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], io: Io = processIo(), signal: AbortSignal = new AbortController().signal): Promise<number> {
  let code: number = EXIT.ok;
  const setCode = (c: number): void => {
    code = c;
  };
  const program = new Command()
    .name("amphi")
    .description("GitOps for services on Kubernetes and VM hosts in one mesh")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  validateCommand(program, io, setCode);
  renderCommand(program, io, setCode);
  planCommand(program, io, setCode, { reporter: (env, repoDir) => reporterFor(env.status, { env: io.env, repoDir }) });
  driftCommand(program, io, setCode);
  applyCommand(program, io, setCode, signal);
  tasksCommand(program, io, setCode);
  demoCommand(program, io, setCode, signal, run);
  dnsCommand(program, io, setCode, signal);
  reconcileCommand(program, io, setCode, signal);
  serveCommand(program, io, setCode, signal);
  xdsCommand(program, io, setCode, signal);
  secretCommand(program, io, setCode);
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
    for (const sub of cmd.commands) configure(sub as Command);
  };
  configure(program as unknown as Command);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.error;
    throw e;
  }
  return code;
}

/** Runs amphi as a process: SIGINT/SIGTERM abort the running command (tasks end or are marked cancelled,
 * state is saved); a second signal exits at once. */
export async function main(argv: string[]): Promise<number> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`amphi: ${sig}: stopping; running tasks are cancelled and the run is saved (again to force)\n`);
    ac.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return run(argv, processIo(), ac.signal);
}

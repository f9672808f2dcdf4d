// amphi's composition root: builds the command tree, runs one command, returns its exit code.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { EXIT, processIo, type Io } from "./common.js";
import { validateCommand } from "./validate.js";
import { renderCommand } from "./render.js";
import { planCommand } from "./plan.js";
import { demoCommand } from "./demo.js";

/** The version printed by `amphi --version`. */
export const VERSION = "0.1.0";

/** Runs amphi with `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
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
  planCommand(program, io, setCode);
  demoCommand(program, io, setCode);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.error;
    throw e;
  }
  return code;
}

// amphi's composition root: builds the command tree, runs one command, returns its exit code.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { EXIT, processIo, type Io } from "./common.js";
import { tuneForCommand } from "./heap.js";

/** The version printed by `amphi --version`. */
export const VERSION = "0.1.0";

type SetCode = (code: number) => void;
/** Registers one command on the program. */
type Register = (program: Command, io: Io, setCode: SetCode, signal: AbortSignal) => void;

/** Every command, in help order, each loaded only when it is registered: a run registers the one command it
 * was given (and every command for `--help`, `help` or an unknown word), so `amphi plan` never loads the gRPC,
 * SSH, age or Git libraries that other commands use (module loading was the larger part of a small plan). */
const COMMANDS: Record<string, () => Promise<Register>> = {
  validate: async () => (await import("./validate.js")).validateCommand,
  render: async () => (await import("./render.js")).renderCommand,
  plan: async () => {
    const { planCommand } = await import("./plan.js");
    // PR mode's statuses go to the environment's provider, whose adapters load only when a status is posted.
    return (program, io, setCode) =>
      planCommand(program, io, setCode, { reporter: async (env, repoDir) => (await import("../adapters/forge/index.js")).reporterFor(env.status, { env: io.env, repoDir }) });
  },
  drift: async () => (await import("./drift.js")).driftCommand,
  apply: async () => (await import("./apply.js")).applyCommand,
  tasks: async () => (await import("./tasks.js")).tasksCommand,
  demo: async () => {
    const { demoCommand } = await import("./demo.js");
    return (program, io, setCode, signal) => demoCommand(program, io, setCode, signal, run);
  },
  dns: async () => (await import("./dns.js")).dnsCommand,
  reconcile: async () => (await import("./reconcile.js")).reconcileCommand,
  serve: async () => (await import("./serve.js")).serveCommand,
  xds: async () => (await import("./xds.js")).xdsCommand,
  secret: async () => (await import("./secret.js")).secretCommand,
};

/** The commands a run needs: the one named by the first word of `argv` (top-level options take no value), none
 * for `--version` alone, or all of them when there is no word or it is not a command (help, and commander's
 * "unknown command" with its suggestion, list them all). */
function commandsFor(argv: string[]): string[] {
  const word = argv.find((a) => !a.startsWith("-"));
  if (word === undefined && argv.some((a) => a === "-V" || a === "--version") && !argv.some((a) => a === "-h" || a === "--help")) return [];
  return word !== undefined && Object.hasOwn(COMMANDS, word) ? [word] : Object.keys(COMMANDS);
}

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
  const registers = await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program as unknown as Command, io, setCode, signal);
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
  const commands = commandsFor(argv);
  tuneForCommand(commands.length === 1 ? commands[0] : undefined);
  return run(argv, processIo(), ac.signal);
}

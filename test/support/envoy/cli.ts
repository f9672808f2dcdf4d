// The command line of the Envoy test double: the subset of Envoy's flags amphi and its tests use, in Envoy's
// spellings (`-c FILE`, `--config-path FILE`, `--flag=value`). An unknown flag is an error worded like Envoy's
// (TCLAP's "PARSE ERROR"), exit 1.

/** What the double was asked to do. */
export interface DoubleOptions {
  configPath: string | null;
  serviceNode: string | null;
  serviceCluster: string | null;
  baseId: number;
  logLevel: string;
  logPath: string | null;
  adminAddressPath: string | null;
  drainTimeS: number;
  parentShutdownTimeS: number;
  mode: "serve" | "validate";
  version: boolean;
}

const LEVELS = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"];

/** Flags taking a value: long name → option key (short aliases map to the long name). */
const VALUED: Record<string, keyof DoubleOptions> = {
  "--config-path": "configPath",
  "--service-node": "serviceNode",
  "--service-cluster": "serviceCluster",
  "--base-id": "baseId",
  "--log-level": "logLevel",
  "--log-path": "logPath",
  "--admin-address-path": "adminAddressPath",
  "--drain-time-s": "drainTimeS",
  "--parent-shutdown-time-s": "parentShutdownTimeS",
  "--mode": "mode",
  // Accepted and without effect: the double runs one event loop, and has no hot restart.
  "--concurrency": "baseId",
};
const SHORT: Record<string, string> = { "-c": "--config-path", "-l": "--log-level" };
const SWITCHES = new Set(["--version", "--disable-hot-restart"]);

/** A command line the double refuses (the message is what it prints). */
export class UsageError extends Error {}

/** Parses Envoy's flags. */
export function parseArgs(argv: readonly string[]): DoubleOptions {
  const o: DoubleOptions = { configPath: null, serviceNode: null, serviceCluster: null, baseId: 0, logLevel: "info", logPath: null, adminAddressPath: null, drainTimeS: 5, parentShutdownTimeS: 15, mode: "serve", version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = SHORT[eq > 0 ? arg.slice(0, eq) : arg] ?? (eq > 0 ? arg.slice(0, eq) : arg);
    if (SWITCHES.has(flag) && eq < 0) {
      if (flag === "--version") o.version = true;
      continue;
    }
    const key = VALUED[flag];
    if (!key) throw new UsageError(`PARSE ERROR: Argument: ${arg}\n             Couldn't find match for argument\n`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`PARSE ERROR: Argument: ${flag}\n             Missing a value for this argument!\n`);
    if (flag === "--concurrency") continue;
    setOption(o, key, flag, value);
  }
  return o;
}

function setOption(o: DoubleOptions, key: keyof DoubleOptions, flag: string, value: string): void {
  if (key === "baseId" || key === "drainTimeS" || key === "parentShutdownTimeS") {
    if (!/^\d+$/.test(value)) throw new UsageError(`PARSE ERROR: Argument: ${flag}\n             Couldn't read argument value from string '${value}'\n`);
    o[key] = Number(value);
  } else if (key === "mode") {
    if (value !== "serve" && value !== "validate") throw new UsageError(`PARSE ERROR: Argument: ${flag}\n             Value '${value}' does not meet constraint: serve|validate (init_only: not implemented by the Envoy test double)\n`);
    o.mode = value;
  } else if (key === "logLevel") {
    if (!LEVELS.includes(value)) throw new UsageError(`PARSE ERROR: Argument: ${flag}\n             Value '${value}' does not meet constraint: ${LEVELS.join("|")}\n`);
    o.logLevel = value;
  } else {
    (o as unknown as Record<string, unknown>)[key] = value;
  }
}

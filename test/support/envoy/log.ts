// Log lines of the Envoy test double, in Envoy's layout (`[time][level][component] message`), filtered by
// `--log-level`, to stderr or the `--log-path` file.
import { appendFileSync } from "node:fs";

const ORDER = ["trace", "debug", "info", "warning", "error", "critical", "off"];
let threshold = 2;
let path: string | null = null;

/** Sets the level (`warn` is `warning`) and destination. */
export function configureLog(level: string, logPath: string | null): void {
  threshold = ORDER.indexOf(level === "warn" ? "warning" : level);
  path = logPath;
}

/** Writes one line when `level` passes the threshold. */
export function log(level: "trace" | "debug" | "info" | "warning" | "error" | "critical", component: string, message: string): void {
  if (ORDER.indexOf(level) < threshold) return;
  const line = `[${new Date().toISOString()}][${process.pid}][${level}][${component}] ${message}\n`;
  if (path) appendFileSync(path, line);
  else process.stderr.write(line);
}

// The env file of a release (`.amphi/env`): one `KEY='value'` line per variable, sorted by key. The same
// text is valid for sh (sourced with `set -a`) and for systemd's EnvironmentFile= (which knows the
// single quotes and the `'\''` escape), so either supervisor can read it.

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Quotes a value for POSIX sh: single quotes, with each `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Names that cannot be environment variable names for a shell (they would be run, not assigned). */
export function invalidEnvNames(environment: Record<string, string>): string[] {
  return Object.keys(environment).filter((k) => !NAME.test(k)).sort();
}

/** The env file's text. Throws when a name is not a shell variable name (see invalidEnvNames). */
export function envFileText(environment: Record<string, string>): string {
  const bad = invalidEnvNames(environment);
  if (bad.length > 0) throw new Error(`environment names must match ${NAME.source}: ${bad.join(", ")}`);
  return Object.keys(environment)
    .sort()
    .map((k) => `${k}=${shellQuote(environment[k] as string)}\n`)
    .join("");
}

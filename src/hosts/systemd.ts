// The systemd unit of an app on a host where systemd is PID 1 (and amphi logs in as root). Pure text:
// the host task writes it to /etc/systemd/system/ when it differs and restarts the unit.
//
// The unit runs `bin/amphi-exec <current>` like amphi's sh supervisor does, instead of naming an
// EnvironmentFile= and User= itself: env file, start command and run-as user belong to the release
// (`<release>/.amphi/`), so switching `current` back on a rollback switches all three without rewriting
// the unit. amphi-exec reads the env file as root (mode 600) and then drops to the run-as user.

/** `amphi-<env>-<app>.service`. */
export function unitName(env: string, app: string): string {
  return `amphi-${env}-${app}.service`;
}

/** Where the unit file goes. */
export function unitPath(env: string, app: string): string {
  return `/etc/systemd/system/${unitName(env, app)}`;
}

/** A value in a unit file where systemd expands `%` specifiers (every setting amphi writes). */
function unitValue(s: string): string {
  if (/[\n\r]/.test(s)) throw new Error(`a systemd unit value cannot contain a line break: ${JSON.stringify(s)}`);
  return s.replace(/%/g, "%%");
}

/** One argument of ExecStart=: double-quoted, with `\`, `"`, `%` and `$` escaped for systemd. */
function execArg(s: string): string {
  return `"${unitValue(s).replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, "$$$$")}"`;
}

/** The unit file text of one app (absolute `baseDir`). */
export function systemdUnit(o: { env: string; app: string; baseDir: string; stopGraceMs: number }): string {
  const current = `${o.baseDir}/apps/${o.app}/current`;
  const log = `${o.baseDir}/logs/${o.app}.log`;
  return [
    "# Written by amphi; changes are overwritten on the next deploy.",
    "[Unit]",
    `Description=amphi ${unitValue(o.app)} (environment ${unitValue(o.env)})`,
    "After=network-online.target",
    "Wants=network-online.target",
    // Never stop restarting: amphi's health checks and reports say when an app keeps failing.
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=simple",
    `WorkingDirectory=${unitValue(current)}`,
    `ExecStart=/bin/sh ${execArg(`${o.baseDir}/bin/amphi-exec`)} ${execArg(current)}`,
    "Restart=on-failure",
    "RestartSec=1s",
    // Exponential restart delay up to 30 s (systemd 254+; older versions ignore these two lines).
    "RestartSteps=5",
    "RestartMaxDelaySec=30s",
    "KillMode=control-group",
    `TimeoutStopSec=${Math.max(1, Math.ceil(o.stopGraceMs / 1000))}s`,
    `StandardOutput=append:${unitValue(log)}`,
    `StandardError=append:${unitValue(log)}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

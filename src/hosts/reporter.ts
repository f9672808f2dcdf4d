// The health reporter of an instance: a POSIX-sh loop on the host (scripts/reporter.sh) that GETs the app's
// health URL every few seconds and PUTs /v1/agent/check/pass|fail/<check-id> to Consul, keeping the TTL
// checks of the instance's registrations (`service:<id>`, as render/consul.ts names them) passing while
// the app is healthy. The TTL is the safety net: a host, app or reporter that dies lets its checks expire.
//
// On the host the reporter is a small "app" of its own under `<baseDir>/reporter/` (apps/<app>.reporter/),
// so the same control script and supervisor run it (amphi-supervise, or a systemd unit named
// `amphi-<env>-<app>.reporter.service`: app names have no dots, so it cannot collide with an app's unit).
// The Consul token goes to mode-600 files there through stdin: never on a command line, never in a log.
import { parseDuration } from "../model/duration.js";
import type { EnvironmentModel, HostInstance } from "../model/index.js";
import { vmSidecarSource } from "../runtimes/sidecar/render.js";
import { envFileText } from "./env-file.js";
import { TaskError } from "./errors.js";
import { fields, scriptError, scriptText, EXEC_SH, SUPERVISE_SH } from "./scripts.js";
import { systemdUnit } from "./systemd.js";
import { seconds, type TaskContext, type TaskOutcome } from "./task.js";

/** What is installed as `amphi-report` (lib.sh + reporter.sh; the trailing newline dropped, as the host
 * compares files with `$(cat file)`). */
const INSTALLED_SCRIPT = scriptText("reporter").trimEnd();
const STOP_GRACE_MS = 2000;
// Consul tokens are UUIDs; anything outside this set could break the curl/wget config lines it goes into.
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]*$/;

/** What an instance's reporter needs besides the instance. */
export interface ReporterConfig {
  /** The Consul agent as the hosts reach it (`http://10.0.0.1:8500`): the agent that owns the registrations. */
  address: string;
  /** ACL token (service:write on the services), or null. */
  token: string | null;
  /** Seconds between two reports; below the check TTL (see reporterInterval). */
  intervalSeconds: number;
  /** Seconds one health GET may take (default 2, the spec's default healthCheck.timeoutSeconds). */
  timeoutSeconds?: number;
  /** Check at the instance's address instead of loopback: only with capture and a VM sidecar, where that path runs
   * through the sidecar as clients' calls do. Without them the address may not be one the host reaches itself
   * (NAT, an app bound to loopback), so a loopback check is the honest one. */
  healthAtAddress?: boolean;
}

/** A third of the TTL, at least 1 s: two reports can be lost before a healthy check expires. */
export function reporterInterval(checkTTL: string): number {
  const ms = parseDuration(checkTTL) ?? 15_000;
  return Math.max(1, Math.floor(ms / 3000));
}

/** The reporter settings of an environment: its Consul address, the token from `consul.tokenEnv`, an
 * interval from `consul.checkTTL`. Throws naming the variable (never a value) when the token is unset. */
export function reporterConfigFor(env: EnvironmentModel, processEnv: Record<string, string | undefined> = process.env): ReporterConfig {
  let token: string | null = null;
  if (env.consul.tokenEnv) {
    token = processEnv[env.consul.tokenEnv] || null;
    if (!token) throw new Error(`env ${env.name}: the health reporters need a Consul token, but ${env.consul.tokenEnv} (consul.tokenEnv) is not set`);
  }
  const cfg: ReporterConfig = { address: env.consul.address, token, intervalSeconds: reporterInterval(env.consul.checkTTL) };
  return env.mesh.capture && vmSidecarSource(env) !== null ? { ...cfg, healthAtAddress: true } : cfg;
}

/** The TTL check ID of a registration ID (`service:<id>`, Consul's name for a service's single check). */
export function checkIdOf(registrationId: string): string {
  return `service:${registrationId}`;
}

/** Where reporters live under a host's base dir, and the reporter's name there. */
export function reporterBase(baseDir: string): string {
  return `${baseDir}/reporter`;
}
const nameOf = (app: string): string => `${app}.reporter`;

/** Installs (or updates) and starts the instance's reporter; restarts it only when its files changed.
 * Returns what it did: `unchanged` when it ran with these settings already. */
export async function ensureReporter(ctx: TaskContext, instance: HostInstance, cfg: ReporterConfig): Promise<TaskOutcome> {
  const host = ctx.session.host.host;
  const app = instance.app;
  if (cfg.token !== null && !TOKEN_CHARS.test(cfg.token)) throw new TaskError(host, `${app}: the Consul token has characters a token cannot have; not installing the health reporter`);
  const env = envFileText({
    AMPHI_REPORT_APP: app,
    AMPHI_REPORT_ENV: ctx.env,
    AMPHI_CONSUL: cfg.address.replace(/\/+$/, ""),
    AMPHI_CHECKS: instance.registrations.map(checkIdOf).join(" "),
    // With capture and a sidecar, checked at the address clients use: that path runs through the sidecar (capture's
    // AMPHI_OUTPUT rule for the host's own addresses), so no proxy listening reads as failing. Else over loopback.
    ...(cfg.healthAtAddress ? { AMPHI_HEALTH_HOST: instance.address } : {}),
    AMPHI_INTERVAL: String(Math.max(1, Math.round(cfg.intervalSeconds))),
    AMPHI_TIMEOUT: String(cfg.timeoutSeconds ?? 2),
  }).trimEnd();
  const r = await runReporterScript(ctx, app, ["install", INSTALLED_SCRIPT, env], cfg.token ?? "");
  if (r.code !== 0) throw new TaskError(host, `${app}: cannot install the health reporter: ${scriptError(r)}`);
  const f = fields(r.stdout);
  if (f.client === "none") ctx.log(`warning: no curl, GNU wget, node or python3 on ${host}: the health reporter of ${app} cannot update Consul`);
  const changed = f.changed === "1";
  const running = f.running === "1";
  if (running && !changed) return { result: "unchanged", message: `health reporter of ${app} is running` };
  const action = running ? "restart" : "start";
  const out = await controlReporter(ctx, app, action);
  return { result: "changed", message: `health reporter of ${app} ${running ? "restarted" : "started"} (pid ${out.pid ?? "?"}, every ${cfg.intervalSeconds}s to ${cfg.address})` };
}

/** Stops and removes the app's reporter (and `<baseDir>/reporter/` once no reporter is left). True when
 * there was something to remove. */
export async function removeReporter(ctx: TaskContext, app: string): Promise<boolean> {
  const host = ctx.session.host.host;
  const grace = seconds(STOP_GRACE_MS);
  const r = await runIn(ctx, nameOf(app), scriptText("undeploy"), [String(grace)], { timeoutMs: (2 * grace + 60) * 1000 });
  if (r.code !== 0) throw new TaskError(host, `${app}: cannot remove the health reporter: ${scriptError(r)}`);
  const removed = r.stdout.includes("removed=");
  if (!removed) return false;
  const c = await runIn(ctx, "reporter", scriptText("reporter"), ["cleanup"]);
  if (c.code !== 0) ctx.log(`warning: cleaning up ${reporterBase(ctx.session.host.baseDir)} failed: ${scriptError(c)}`);
  return removed;
}

/** Deploy's hook: after a successful deploy, the reporter matches `cfg` (installed or updated; removed
 * when `cfg` is null or the instance has no registrations). The outcome says what changed. */
export async function syncReporter(ctx: TaskContext, instance: HostInstance, cfg: ReporterConfig | null, outcome: TaskOutcome): Promise<TaskOutcome> {
  if (cfg === null || instance.registrations.length === 0) {
    if (!(await removeReporter(ctx, instance.app))) return outcome;
    return { result: "changed", message: `${outcome.message}; health reporter removed` };
  }
  const r = await ensureReporter(ctx, instance, cfg);
  if (r.result === "unchanged") return outcome;
  ctx.log(r.message);
  return { result: "changed", message: `${outcome.message}; ${r.message}` };
}

async function controlReporter(ctx: TaskContext, app: string, action: "start" | "restart"): Promise<Record<string, string>> {
  const base = reporterBase(ctx.session.host.baseDir);
  const unit = systemdUnit({ env: ctx.env, app: nameOf(app), baseDir: base, stopGraceMs: STOP_GRACE_MS }).trimEnd();
  const grace = seconds(STOP_GRACE_MS);
  const r = await runIn(ctx, nameOf(app), scriptText("control"), [action, String(grace), unit, SUPERVISE_SH, EXEC_SH], { timeoutMs: (2 * grace + 30) * 1000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `${app}: health reporter ${action} failed: ${scriptError(r)}`);
  return fields(r.stdout);
}

function runReporterScript(ctx: TaskContext, app: string, args: string[], stdin: string) {
  return runIn(ctx, nameOf(app), scriptText("reporter"), args, { stdin });
}

// A task script run with the reporters' base dir instead of the host's (see scripts.ts's runScript).
function runIn(ctx: TaskContext, app: string, script: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}) {
  const argv = ["sh", "-c", script, "amphi", reporterBase(ctx.session.host.baseDir), app, ctx.env, ...args];
  return ctx.session.exec(argv, { stdin: opts.stdin, timeoutMs: opts.timeoutMs, signal: ctx.signal });
}

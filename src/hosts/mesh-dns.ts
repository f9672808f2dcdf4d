// mesh-dns on a VM host with capture (DESIGN.md "Traffic capture", "Consul and mesh-dns"): the target of the
// DNS redirect. The capture task installs and supervises it before the iptables rules go in (so DNS on the
// host never points at nothing), and removes it after they are gone.
//
// Hosts have node, not amphi: mesh-dns is one ESM file bundled with esbuild from
// src/adapters/dns-server/host-main.ts (mesh-dns-bundle.ts: prebuilt by `npm run build`, else built on first
// use), uploaded only when the host's copy has another sha256. On the host (`<baseDir>/mesh/`):
// mesh-dns.mjs, dns.json (settings), token (mode 600, owned by the proxy uid; from stdin, never argv), and a
// small supervised "app" `mesh.dns` (apps/mesh.dns/current/amphi-mesh-dns) run by the same control script and
// supervisor as apps (amphi-supervise, or the systemd unit `amphi-<env>-mesh.dns.service`; app names have no
// dots, so it cannot collide). Its `run` mode drops to the proxy uid (setpriv, else runuser): capture leaves that
// uid's traffic alone, so mesh-dns's upstream queries are not redirected back to itself.
import { isIP } from "node:net";
import type { CaptureRules } from "../model/index.js";
import { applyCapture, removeCapture, type CaptureOutcome } from "./capture.js";
import { envFileText } from "./env-file.js";
import { TaskError } from "./errors.js";
import { fields, logLines, scriptError, scriptText, EXEC_SH, SUPERVISE_SH } from "./scripts.js";
import { systemdUnit } from "./systemd.js";
import { seconds, type TaskContext } from "./task.js";
import type { HostDnsConfig } from "../dns/host-config.js";
import { meshDnsAddon, meshDnsProgram } from "./mesh-dns-bundle.js";
import { describeReadiness, sidecarReadiness } from "./sidecar.js";

type DnsRules = NonNullable<CaptureRules["dns"]>;

const CONTROL = scriptText("control");
const MESH_DNS_SH = scriptText("mesh-dns");
/** Installed as current/amphi-mesh-dns, whose `run` mode starts mesh-dns (trailing newline dropped: the host
 * compares with `$(cat file)`). */
const INSTALLED_SCRIPT = MESH_DNS_SH.trimEnd();

const APP = "mesh.dns";
const STOP_GRACE_MS = 3000;
const READY_MS = 10_000;
// Consul tokens are UUIDs; keep anything odd out of files and logs.
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]*$/;

/** Where mesh-dns lives under a host's base dir. */
export function meshBase(baseDir: string): string {
  return `${baseDir}/mesh`;
}

// ---------------------------------------------------------------------------------------------
// Talking to the host

function run(ctx: TaskContext, script: string, args: string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}) {
  const argv = ["sh", "-c", script, "amphi", meshBase(ctx.session.host.baseDir), APP, ctx.env, ...args];
  return ctx.session.exec(argv, { stdin: opts.stdin, timeoutMs: opts.timeoutMs, signal: ctx.signal });
}

/** All `key=value` lines of one key, in order. */
function all(stdout: string, key: string): string[] {
  return stdout.split("\n").flatMap((l) => (l.startsWith(`${key}=`) ? [l.slice(key.length + 1).trim()] : [])).filter(Boolean);
}

const loopback = (ip: string): boolean => /^127\./.test(ip) || ip === "::1";

/** Upstreams for dns.json: the rendered ones, else the host's resolv.conf nameservers without loopback stubs
 * (for systemd-resolved's 127.0.0.53, its own upstreams from /run/systemd/resolve/resolv.conf). */
export function chooseUpstreams(host: string, rules: DnsRules, ns: string[], resolved: string[]): string[] {
  if (rules.upstreams.length > 0) return rules.upstreams;
  let servers = ns.map((s) => s.replace(/%.*$/, "")).filter((s) => isIP(s) !== 0);
  if (servers.includes("127.0.0.53")) servers = [...servers, ...resolved.map((s) => s.replace(/%.*$/, "")).filter((s) => isIP(s) !== 0)];
  const kept = [...new Set(servers.filter((s) => !loopback(s)))];
  if (kept.length === 0) {
    const seen = servers.length > 0 ? `only local stubs (${servers.join(", ")})` : "no nameserver";
    throw new TaskError(host, `mesh-dns: /etc/resolv.conf on ${host} has ${seen}; capture redirects their queries to mesh-dns, which needs real resolvers: set mesh.dnsUpstreams`);
  }
  return kept;
}

/** Installs (or updates) mesh-dns and makes sure it runs and answers on 127.0.0.1:<port>. `unchanged` when
 * the program, its settings and token were already there and it ran. */
export async function ensureMeshDns(ctx: TaskContext, rules: DnsRules, token: string | null): Promise<CaptureOutcome> {
  const host = ctx.session.host.host;
  if (token !== null && !TOKEN_CHARS.test(token)) throw new TaskError(host, "mesh-dns: the Consul token has characters a token cannot have; not installing mesh-dns");
  const inspect = await run(ctx, MESH_DNS_SH, ["inspect"]);
  if (inspect.code !== 0) throw new TaskError(host, `mesh-dns: inspecting ${meshBase(ctx.session.host.baseDir)} failed: ${scriptError(inspect)}`);
  const f = fields(inspect.stdout);
  if (!f.node) throw new TaskError(host, `mesh-dns needs node on ${host} (not found in PATH)`);
  if (f.uid !== "0" && f.uid !== String(rules.user)) {
    throw new TaskError(host, `mesh-dns must run as the proxy uid ${rules.user} (mesh.proxyUid), which needs root on ${host}: connect as root (now uid ${f.uid ?? "?"})`);
  }
  const upstreams = chooseUpstreams(host, rules, all(inspect.stdout, "ns"), all(inspect.stdout, "resolved"));
  const parts: string[] = [];

  const program = await meshDnsProgram();
  if (f.sha !== program.sha256) {
    ctx.log(`mesh-dns: uploading mesh-dns.mjs (${Math.round(program.code.length / 1024)} KiB, sha256 ${program.sha256.slice(0, 12)}) to ${host}`);
    const r = await run(ctx, MESH_DNS_SH, ["program", program.sha256], { stdin: program.code, timeoutMs: 120_000 });
    if (r.code !== 0) throw new TaskError(host, `mesh-dns: uploading mesh-dns.mjs failed: ${scriptError(r)}`);
    parts.push("program uploaded");
  }
  // The batched UDP addon goes next to the program when the host's machine is this one's (else, or when a host's
  // libc cannot load it, mesh-dns serves UDP through node:dgram and its log says why).
  const addon = meshDnsAddon(f.machine ?? "");
  if (addon !== null && f.addon !== addon.sha256) {
    ctx.log(`mesh-dns: uploading udp-batch.node (${Math.round(addon.code.length / 1024)} KiB, sha256 ${addon.sha256.slice(0, 12)}) to ${host}`);
    const r = await run(ctx, MESH_DNS_SH, ["program", addon.sha256, "udp-batch.node"], { stdin: addon.code, timeoutMs: 120_000 });
    if (r.code !== 0) throw new TaskError(host, `mesh-dns: uploading udp-batch.node failed: ${scriptError(r)}`);
    parts.push("batched UDP addon uploaded");
  }

  const config: HostDnsConfig = {
    env: ctx.env,
    listen: [rules.listen],
    port: rules.port,
    domain: rules.domain,
    serviceIP: rules.serviceIP,
    upstreams,
    consul: rules.consul === null ? null : { address: rules.consul, datacenter: null, tokenFile: token ? "token" : null },
  };
  const env = envFileText({ AMPHI_DNS_ENV: ctx.env, AMPHI_DNS_UID: String(rules.user), AMPHI_NODE: f.node }).trimEnd();
  const inst = await run(ctx, MESH_DNS_SH, ["install", JSON.stringify(config, null, 2), String(rules.user), env, INSTALLED_SCRIPT], { stdin: token ?? "" });
  if (inst.code !== 0) throw new TaskError(host, `mesh-dns: installing its settings failed: ${scriptError(inst)}`);
  const fi = fields(inst.stdout);
  const changed = fi.changed === "1" || parts.length > 0;
  const running = fi.running === "1";
  if (changed) parts.push("settings written");

  if (running && !changed) {
    const ok = await ready(ctx, rules, 2000);
    if (ok) return { result: "unchanged", message: `mesh-dns running on ${rules.listen}:${rules.port}` };
  }
  const action = running ? "restart" : "start";
  const pid = await control(ctx, action);
  ctx.log(`mesh-dns: ${action === "restart" ? "restarted" : "started"} on ${host} as uid ${rules.user} (pid ${pid}), upstreams ${upstreams.join(", ")}`);
  if (!(await ready(ctx, rules, READY_MS))) {
    throw new TaskError(host, `mesh-dns did not answer on ${rules.listen}:${rules.port} within ${seconds(READY_MS)}s (see ${meshBase(ctx.session.host.baseDir)}/logs/${APP}.log); capture rules not applied`);
  }
  parts.push(`${action === "restart" ? "restarted" : "started"} as uid ${rules.user}`);
  return { result: "changed", message: `mesh-dns ${parts.join(", ")} (${rules.listen}:${rules.port}, upstreams ${upstreams.join(", ")})` };
}

/** Whether mesh-dns runs on the host: its supervisor's app pid (or its systemd unit's main pid) is alive, the
 * same test probe.sh makes for apps. Read-only (the `inspect` mode ensureMeshDns starts with). */
export async function meshDnsRunning(ctx: TaskContext): Promise<boolean> {
  const r = await run(ctx, MESH_DNS_SH, ["inspect"]);
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `mesh-dns: inspecting ${meshBase(ctx.session.host.baseDir)} failed: ${scriptError(r)}`);
  return fields(r.stdout).running === "1";
}

async function ready(ctx: TaskContext, rules: DnsRules, ms: number): Promise<boolean> {
  const r = await run(ctx, MESH_DNS_SH, ["check", String(rules.port), rules.domain, String(seconds(ms))], { timeoutMs: ms + 30_000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `mesh-dns: checking it failed: ${scriptError(r)}`);
  const ok = fields(r.stdout).result === "ok";
  if (!ok) for (const line of logLines(r.stdout)) ctx.log(`mesh-dns log: ${line}`);
  return ok;
}

async function control(ctx: TaskContext, action: "start" | "restart"): Promise<string> {
  const base = meshBase(ctx.session.host.baseDir);
  const unit = systemdUnit({ env: ctx.env, app: APP, baseDir: base, stopGraceMs: STOP_GRACE_MS }).trimEnd();
  const grace = seconds(STOP_GRACE_MS);
  const r = await run(ctx, CONTROL, [action, String(grace), unit, SUPERVISE_SH, EXEC_SH], { timeoutMs: (2 * grace + 30) * 1000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `mesh-dns: ${action} failed: ${scriptError(r)}`);
  return fields(r.stdout).pid ?? "?";
}

/** Stops mesh-dns and removes `<baseDir>/mesh/`. True when there was something to remove. */
export async function removeMeshDns(ctx: TaskContext): Promise<boolean> {
  const grace = seconds(STOP_GRACE_MS);
  const r = await run(ctx, MESH_DNS_SH, ["remove", String(grace)], { timeoutMs: (2 * grace + 60) * 1000 });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `mesh-dns: removing it failed: ${scriptError(r)}`);
  return fields(r.stdout).removed === "1";
}

// ---------------------------------------------------------------------------------------------
// The capture task with mesh-dns

/** The Consul token mesh-dns reads the catalog with: the value of `tokenEnv`, or null. */
export type TokenSource = () => string | null;

/** The capture task: mesh-dns first (installed, running, answering), then the rules (applyCapture). Rules
 * without `dns` (hand-made, or older records) get the rules alone. */
export async function applyCaptureWithDns(ctx: TaskContext, rules: CaptureRules, token: TokenSource = () => null): Promise<CaptureOutcome> {
  await requireProxy(ctx, rules);
  if (!rules.dns) return applyCapture(ctx, rules);
  const dns = await ensureMeshDns(ctx, rules.dns, rules.dns.consul === null ? null : token());
  const cap = await applyCapture(ctx, rules);
  if (dns.result === "unchanged") return cap;
  return { result: "changed", message: cap.result === "unchanged" ? `${dns.message}; ${cap.message}` : `${cap.message}; ${dns.message}` };
}

const PROXY_READY_MS = 15_000;

/** Capture never cuts an app off: with a sidecar in the rules (`proxy`), they go in only once it answers (admin
 * /ready 200, both capture ports accepting); else a TaskError saying what is missing. */
async function requireProxy(ctx: TaskContext, rules: CaptureRules): Promise<void> {
  if (!rules.proxy) return;
  const r = await sidecarReadiness(ctx, rules.proxy, PROXY_READY_MS);
  if (r.ok) return;
  const host = ctx.session.host.host;
  throw new TaskError(host, `capture rules not applied: the sidecar on ${host} is not ready (${describeReadiness(r, rules.proxy)}); installing them would cut the apps off`);
}

/** The uncapture task: the rules first (so DNS goes back to the host's resolvers), then mesh-dns. */
export async function removeCaptureWithDns(ctx: TaskContext): Promise<CaptureOutcome> {
  const cap = await removeCapture(ctx);
  const removed = await removeMeshDns(ctx);
  if (!removed) return cap;
  ctx.log(`mesh-dns: stopped and removed ${meshBase(ctx.session.host.baseDir)} on ${ctx.session.host.host}`);
  return { result: "changed", message: `${cap.message}; mesh-dns removed` };
}

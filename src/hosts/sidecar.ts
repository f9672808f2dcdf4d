// A VM host's Envoy (issue 12), run like an app by the same deploy, control script and supervisor, under its own
// base dir `<baseDir>/sidecar/` (its own state.json, packages, apps/envoy/releases, run/ and logs/), so it is
// never one of the host's apps. From a sha256-pinned package (its `start` names the executable inside it) or,
// for `mesh.sidecar.binary`, from a tiny generated package that holds no program at all: the executable is the
// host's. The release's start command writes the bootstrap to current/envoy.yaml and execs Envoy as the proxy
// uid (setpriv, else runuser), so the supervisor's pid is Envoy's and a dead Envoy is restarted like a dead app.
// Ready means: admin `GET /ready` is 200 and both capture ports listen (scripts/sidecar-check.sh); the deploy's
// health gate waits for the first, the task then for the other two. An upgrade first drains the listeners
// (`POST /drain_listeners?graceful`, then `drainSeconds`) and then restarts Envoy.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { HostInstance } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import type { VmSidecar } from "../runtimes/sidecar/resource.js";
import { bootstrapDigest } from "../runtimes/sidecar/render.js";
import { deploy } from "./deploy.js";
import { TaskError } from "./errors.js";
import type { PackageFiles } from "./part.js";
import { parseProbe, probe, type HostProbe } from "./probe.js";
import { sameRuntime } from "./same-runtime.js";
import { fields, SCRIPTS, scriptError } from "./scripts.js";
import { readHostState } from "./state-file.js";
import { seconds, type TaskContext, type TaskOutcome } from "./task.js";
import { privateDir } from "./private-dir.js";
import { undeploy } from "./undeploy.js";

/** The sidecar's name among the supervised processes of `<baseDir>/sidecar/`. */
export const SIDECAR_APP = "envoy";
/** The version a sidecar from `mesh.sidecar.binary` is recorded with. */
const BINARY_VERSION = "host-binary";
const STOP_GRACE_MS = 5000;

/** Where the sidecar lives under a host's base dir. */
export function sidecarBase(baseDir: string): string {
  return `${baseDir}/sidecar`;
}

/** The task context with the sidecar's base dir: deploy, probe and undeploy then work on the sidecar as on an app. */
export function sidecarContext(ctx: TaskContext): TaskContext {
  const s = ctx.session;
  const session: HostSession = {
    host: { ...s.host, baseDir: sidecarBase(s.host.baseDir) },
    exec: (argv, opts) => s.exec(argv, opts),
    putFile: (local, remote, opts) => s.putFile(local, remote, opts),
    close: async () => {},
  };
  return { ...ctx, session };
}

// The release's start command (run by `sh -c` in current/ with .amphi/env loaded, as the login user: root, who
// can switch to the proxy uid). Fixed text: values come from the env file only.
const START = [
  "umask 022",
  `printf '%s\\n' "$AMPHI_ENVOY_BOOTSTRAP" >envoy.yaml.tmp && mv -f envoy.yaml.tmp envoy.yaml || exit 1`,
  `case $AMPHI_ENVOY_BIN in /*) bin=$AMPHI_ENVOY_BIN ;; *) bin=$(pwd)/$AMPHI_ENVOY_BIN ;; esac`,
  `[ -x "$bin" ] || { echo "amphi: the Envoy executable $bin is missing or not executable" >&2; exit 127; }`,
  `set -- "$bin" -c "$(pwd)/envoy.yaml" --drain-time-s "$AMPHI_ENVOY_DRAIN" --disable-hot-restart`,
  `uid=$AMPHI_ENVOY_UID`,
  `[ "$(id -u)" = "$uid" ] && exec "$@"`,
  `command -v setpriv >/dev/null 2>&1 && exec setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"`,
  `user=$(awk -F: -v u="$uid" '$3 == u { print $1; exit }' /etc/passwd)`,
  `[ -n "$user" ] && command -v runuser >/dev/null 2>&1 && exec runuser -u "$user" -- "$@"`,
  `echo "amphi: cannot switch to uid $uid (no setpriv; runuser needs a user with that uid in /etc/passwd)" >&2`,
  "exit 126",
].join("\n");

/** The sidecar as the supervised "app" the deploy task installs. `archiveSha256`: of the generated package,
 * for a binary on the host. */
export function sidecarInstance(env: string, sc: VmSidecar, archiveSha256: string): HostInstance {
  const src = sc.source;
  const pkg = "binary" in src ? { version: BINARY_VERSION, package: { path: "" }, sha256: archiveSha256, bin: src.binary } : { version: src.version, package: src.package, sha256: src.sha256, bin: src.exe };
  return {
    app: SIDECAR_APP,
    env,
    hostGroup: sc.hostGroup,
    host: sc.host,
    address: sc.address,
    baseDir: sidecarBase(sc.baseDir),
    version: pkg.version,
    package: pkg.package,
    sha256: pkg.sha256,
    start: START,
    user: null,
    environment: {
      AMPHI_ENVOY_ADMIN: String(sc.adminPort),
      AMPHI_ENVOY_BIN: pkg.bin,
      AMPHI_ENVOY_BOOTSTRAP: sc.bootstrap,
      AMPHI_ENVOY_DRAIN: String(sc.drainSeconds),
      AMPHI_ENVOY_INBOUND: String(sc.inboundPort),
      AMPHI_ENVOY_NODE: sc.nodeId,
      AMPHI_ENVOY_OUTBOUND: String(sc.outboundPort),
      AMPHI_ENVOY_UID: String(sc.user),
    },
    secretEnv: [],
    ports: [
      { name: "admin", port: sc.adminPort, protocol: "http" },
      { name: "inbound", port: sc.inboundPort, protocol: "tcp" },
      { name: "outbound", port: sc.outboundPort, protocol: "tcp" },
    ],
    health: { path: "/ready", port: sc.adminPort },
    services: [],
    specHash: sc.bootstrapDigest,
    registrations: [],
  };
}

/** The sidecar a recorded instance runs (what the reader reports), or null for a record that is not one. */
export function sidecarFromInstance(i: HostInstance, baseDir: string): VmSidecar | null {
  const e = i.environment;
  const num = (k: string): number => Number(e[k]);
  const bin = e["AMPHI_ENVOY_BIN"];
  const bootstrap = e["AMPHI_ENVOY_BOOTSTRAP"];
  const nodeId = e["AMPHI_ENVOY_NODE"];
  if (bin === undefined || bootstrap === undefined || nodeId === undefined) return null;
  const source: VmSidecar["source"] = bin.startsWith("/") && i.version === BINARY_VERSION ? { binary: bin } : { package: i.package, version: i.version, sha256: i.sha256, exe: bin };
  return {
    hostGroup: i.hostGroup,
    host: i.host,
    address: i.address,
    baseDir,
    source,
    nodeId,
    user: num("AMPHI_ENVOY_UID"),
    adminPort: num("AMPHI_ENVOY_ADMIN"),
    inboundPort: num("AMPHI_ENVOY_INBOUND"),
    outboundPort: num("AMPHI_ENVOY_OUTBOUND"),
    drainSeconds: num("AMPHI_ENVOY_DRAIN"),
    bootstrap,
    bootstrapDigest: bootstrapDigest(bootstrap),
  };
}

// ---------------------------------------------------------------------------------------------
// The package of a sidecar from a binary on the host: one small file, so the deploy machinery (release,
// supervisor, health gate, rollback) is the same for both sources.

const BINARY_README = "amphi: this sidecar runs the Envoy binary that mesh.sidecar.binary names on this host.\n";

let generated: { gz: Buffer; sha256: string } | undefined;

/** The generated package (a tar.gz with a README) as a file in this user's private directory of `tmp` (default:
 * the temp directory), checked at every call — the directory (see privateDir) and the file's bytes — and written
 * anew when they differ. Why not a shared path in /tmp: another local user could plant a symlink where amphi writes
 * (and amphi often runs as root) or swap the file between the check and the upload. The host checks the sha256
 * of what it receives as well. */
export function binaryPackage(tmp = tmpdir()): { file: string; sha256: string } {
  generated ??= packageBytes();
  const { gz, sha256 } = generated;
  const file = join(privateDir(tmp), `sidecar-binary-${sha256.slice(0, 16)}.tar.gz`);
  if (!sameBytes(file, gz)) {
    // O_EXCL|O_NOFOLLOW: never through a link or into a file someone else made, even inside our own directory.
    const part = join(dirname(file), `.sidecar-binary.${process.pid}.${randomBytes(6).toString("hex")}.part`);
    const fd = openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, gz);
    } finally {
      closeSync(fd);
    }
    renameSync(part, file);
    if (!sameBytes(file, gz)) throw new Error(`sidecar: the generated package ${file} changed while amphi wrote it`);
  }
  return { file, sha256 };
}

function packageBytes(): { gz: Buffer; sha256: string } {
  const gz = gzipSync(tarOf("README", BINARY_README));
  return { gz, sha256: createHash("sha256").update(gz).digest("hex") };
}

function sameBytes(file: string, bytes: Buffer): boolean {
  try {
    return readFileSync(file).equals(bytes);
  } catch {
    return false;
  }
}

/** A ustar archive of one regular file (mode 644, uid/gid 0, mtime 0). */
function tarOf(name: string, text: string): Buffer {
  const data = Buffer.from(text);
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, "ascii");
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(data.length, 12), 124, 12);
  put(oct(0, 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\u000000", 257, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}

// ---------------------------------------------------------------------------------------------
// Readiness and drain

/** What the readiness check saw. */
export interface SidecarReadiness {
  ok: boolean;
  /** The last status of admin GET /ready ("000": no answer). */
  ready: string;
  inbound: boolean;
  outbound: boolean;
}

/** Waits up to `ms` until Envoy answers admin /ready with 200 and a socket listens on both capture ports (never a
 * connection to them: see scripts/sidecar-check.sh). */
export async function sidecarReadiness(ctx: TaskContext, p: { adminPort: number; inboundPort: number; outboundPort: number }, ms: number): Promise<SidecarReadiness> {
  const secs = seconds(ms);
  const r = await ctx.session.exec(["sh", "-c", SCRIPTS["sidecar-check"], "amphi", "ready", String(p.adminPort), String(p.inboundPort), String(p.outboundPort), String(secs)], {
    timeoutMs: ms + 30_000,
    signal: ctx.signal,
  });
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `sidecar: checking it failed: ${scriptError(r)}`);
  const f = fields(r.stdout);
  return { ok: f.result === "ok", ready: f.ready ?? "000", inbound: f.inbound === "1", outbound: f.outbound === "1" };
}

/** One line on what is missing: `admin /ready 503, nothing accepts on 15006`. */
export function describeReadiness(r: SidecarReadiness, p: { adminPort: number; inboundPort: number; outboundPort: number }): string {
  const parts = [r.ready === "200" ? null : `admin 127.0.0.1:${p.adminPort}/ready ${r.ready === "000" ? "does not answer" : `answers ${r.ready}`}`];
  if (!r.inbound) parts.push(`nothing accepts on the inbound port ${p.inboundPort}`);
  if (!r.outbound) parts.push(`nothing accepts on the outbound port ${p.outboundPort}`);
  return parts.filter(Boolean).join(", ") || "ready";
}

async function drain(ctx: TaskContext, sc: VmSidecar): Promise<void> {
  const r = await ctx.session.exec(["sh", "-c", SCRIPTS["sidecar-check"], "amphi", "drain", String(sc.adminPort), String(sc.drainSeconds)], {
    timeoutMs: sc.drainSeconds * 1000 + 30_000,
    signal: ctx.signal,
  });
  const code = fields(r.stdout).drained ?? "000";
  ctx.log(`sidecar: drain_listeners on ${ctx.session.host.host}: ${code === "200" ? `draining for ${sc.drainSeconds}s` : `admin answered ${code}; restarting without a drain`}`);
}

// ---------------------------------------------------------------------------------------------
// The tasks

/** The sidecar task: Envoy installed (or upgraded: drain, then restart) and running from this bootstrap, ready
 * (admin /ready 200, both capture ports accepting) when it ends; else a TaskError saying what is missing. */
export async function ensureSidecar(ctx: TaskContext, sc: VmSidecar, opts: { packages: PackageFiles; healthTimeoutMs: number }): Promise<TaskOutcome> {
  const host = ctx.session.host.host;
  const sub = sidecarContext(ctx);
  const generatedPkg = "binary" in sc.source ? binaryPackage() : null;
  const instance = sidecarInstance(ctx.env, sc, generatedPkg?.sha256 ?? "");
  const packageFile = generatedPkg ? generatedPkg.file : await opts.packages.file(instance);
  const state = await readHostState(sub.session, ctx.env, ctx.now(), ctx.log);
  const rec = state.apps[SIDECAR_APP];
  // Only a restart is drained: after drain_listeners Envoy takes no new connection until it restarts.
  if (rec?.running && !sameRuntime(rec.instance, instance)) {
    const was = sidecarFromInstance(rec.instance, sc.baseDir);
    if (was && (await sidecarReadiness(ctx, was, 1000)).ready === "200") await drain(ctx, was);
  }
  const out = await deploy(sub, instance, { packageFile, healthTimeoutMs: opts.healthTimeoutMs, stopGraceMs: STOP_GRACE_MS, onRefusedPackage: () => opts.packages.evict?.(instance) });
  const ready = await sidecarReadiness(ctx, sc, opts.healthTimeoutMs);
  if (!ready.ok) {
    const log = `${sidecarBase(sc.baseDir)}/logs/${SIDECAR_APP}.log`;
    throw new TaskError(host, `sidecar ${sc.nodeId} runs, but is not ready within ${seconds(opts.healthTimeoutMs)}s: ${describeReadiness(ready, sc)} (listeners come from the control plane at mesh.controlPlane: is it up and reachable from ${host}? see ${log})`);
  }
  const message = out.message.replace(`${SIDECAR_APP}@`, "sidecar envoy@");
  if (out.result === "unchanged") return { result: "unchanged", message: `${message}; ready (bootstrap ${sc.bootstrapDigest})` };
  return { result: "changed", message: `${message}; ready on ${sc.inboundPort}/${sc.outboundPort} (node ${sc.nodeId}, bootstrap ${sc.bootstrapDigest})` };
}

/** The unsidecar task: Envoy stopped and `<baseDir>/sidecar/` removed. `unchanged` when there was none. */
export async function removeSidecar(ctx: TaskContext): Promise<TaskOutcome> {
  const host = ctx.session.host.host;
  const sub = sidecarContext(ctx);
  const out = await undeploy(sub, SIDECAR_APP, { stopGraceMs: STOP_GRACE_MS });
  const base = sub.session.host.baseDir;
  const rm = await ctx.session.exec(["sh", "-c", 'if [ -e "$1" ]; then rm -rf "$1" && echo removed=1; fi', "amphi", base], { signal: ctx.signal });
  if (rm.code !== 0) throw new TaskError(host, `sidecar: cannot remove ${base}: ${rm.stderr.trim()}`);
  if (out.result === "unchanged" && fields(rm.stdout).removed !== "1") return { result: "unchanged", message: "no sidecar installed" };
  return { result: "changed", message: `sidecar stopped and removed (${base})` };
}

/** The host's sidecar as read: its record (null: none) and whether it is ready. `probed`: the host's probe, which
 * carries the sidecar's own (probe.sh) when its base dir exists, so reading it takes no round trip of its own. */
export async function readSidecar(ctx: TaskContext, probed?: HostProbe): Promise<{ sidecar: VmSidecar; ready: boolean } | null> {
  const sub = sidecarContext(ctx);
  const seen = probed?.sidecarOutput !== undefined ? await parseProbe(sub, probed.sidecarOutput) : await probe(sub);
  const rec = seen.state.apps[SIDECAR_APP] ?? seen.state.pending?.[SIDECAR_APP];
  if (!rec) return null;
  const sidecar = sidecarFromInstance(rec.instance, ctx.session.host.baseDir);
  if (!sidecar) return null;
  const running = seen.processes[SIDECAR_APP] === "running";
  const ready = running && (await sidecarReadiness(ctx, sidecar, 1000)).ok;
  return { sidecar, ready };
}

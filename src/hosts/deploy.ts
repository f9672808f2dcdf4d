// The deploy task: upload (only a package the host does not have), verify its sha256 on the host, unpack
// into a release, record the intent (`pending` in state.json: the release and the last good one), switch
// `current`, restart, health gate; on failure switch back and restart the previous release. state.json
// records the instance only after success. A pending deploy found at the start is one whose run died
// (SIGKILL, a lost host): its last good release is put back first, so a failed release is never taken
// for the one to return to.
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { canonicalJson, revealSecret, type EnvSecrets, type HostInstance, type HostStateFile, type PendingDeploy } from "../model/index.js";
import { TransportError } from "../ports/hosts.js";
import { sameRuntime } from "./same-runtime.js";
import { envFileText } from "./env-file.js";
import { TaskError } from "./errors.js";
import { DEFAULT_MAX_UNPACKED_SIZE, refusal } from "./package-refusal.js";
import { fields, runScript, scriptError } from "./scripts.js";
import { hostStateFromDump, STATE_DUMP_SH, STATE_WRITE_SH, stateFileText, StateWriteError, stateWriteError, writeHostState } from "./state-file.js";
import { control, healthGate, type GateResult } from "./supervisor.js";
import { syncReporter, type ReporterConfig } from "./reporter.js";
import { DEFAULT_STOP_GRACE_MS, markPending, releaseName, saveState, seconds, setRecord, subjectOf, type ProcessOptions, type TaskContext, type TaskOutcome } from "./task.js";

/** Options of deploy. */
export interface DeployOptions extends ProcessOptions {
  /** Local path of the package archive (tar.gz), already sha256-verified by the caller. */
  packageFile: string;
  /** The instance's health reporter (reporter.ts): installed or updated after a successful deploy when
   * set, removed when null, left alone when undefined (no Consul registration wired in). */
  reporter?: ReporterConfig | null;
  /** Called when the host refused the package (tar cannot unpack it, or it unpacks past the host's
   * maxUnpackedSize), so a cached copy on amphi's side goes too. */
  onRefusedPackage?: () => Promise<void> | void;
  /** The plaintexts behind the secret tokens of the instance's environment (absent: it holds none). */
  secrets?: EnvSecrets;
}

/** What deploy learns about the host before it changes anything (scripts/inspect.sh). */
interface HostFacts {
  uid: string;
  /** The login user's name: read only for an instance with a `user` of its own ("" otherwise). */
  user: string;
  runasUid: string;
  baseExists: boolean;
  packagesDirExists: boolean;
  cached: boolean;
  releaseExists: boolean;
  /** Release `current` points at, or "". */
  current: string;
  /** Pid of the running app, or "". */
  pid: string;
  /** state.json as read with the facts (when asked for). */
  state?: HostStateFile;
}

/** Deploys `instance` on the context's host. Idempotent: the same release current, an equal record and a
 * running process give `unchanged` without a restart. A change of env or start command alone rewrites
 * them in the release in place (the release directory is named after the package) and restarts; a failed
 * change puts the old files back. Throws TaskError; `rolledBack` is true when the host runs what it ran
 * before (or, for a first deploy, nothing). */
export async function deploy(ctx: TaskContext, instance: HostInstance, opts: DeployOptions): Promise<TaskOutcome> {
  const outcome = await deployRelease(ctx, instance, opts);
  // Health reporter hook (reporter.ts): only after a deploy that succeeded, changed or not, so a failed
  // deploy never touches it and an unchanged one still repairs a reporter that died or has old settings.
  return opts.reporter === undefined ? outcome : syncReporter(ctx, instance, opts.reporter, outcome);
}

// The environment the app gets: each secret's token replaced by its plaintext (which goes to the host only on the
// install script's stdin; the record keeps the token). A secret whose value is not known (the placeholder, or a
// token with no plaintext here) fails the deploy; any other value comes from a model built in code (tests).
function revealEnvironment(instance: HostInstance, secrets: EnvSecrets | undefined): Record<string, string> {
  const out = { ...instance.environment };
  for (const name of instance.secretEnv) {
    const value = out[name];
    if (value === undefined) continue;
    const plain = revealSecret(secrets, value);
    if (plain === undefined) throw new Error(`secret ${name} has no value to deploy (its secrets were not decrypted)`);
    out[name] = plain;
  }
  return out;
}

async function deployRelease(ctx: TaskContext, instance: HostInstance, opts: DeployOptions): Promise<TaskOutcome> {
  const subject = subjectOf(instance);
  const fail = (cause: string) => new TaskError(ctx.session.host.host, `${subject}: ${cause}`);
  let envText: string;
  try {
    envText = envFileText(revealEnvironment(instance, opts.secrets));
  } catch (e) {
    throw fail((e as Error).message);
  }
  const { app } = instance;
  const release = releaseName(instance);
  const grace = opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 30_000;
  // One round trip for state.json and the host's facts; a recovery changes the facts, so they are read again.
  const seen = await inspect(ctx, subject, instance, release, true);
  const state = seen.state!;
  const interrupted = state.pending?.[app];
  const recovered = interrupted ? await recover(ctx, subject, state, app, interrupted, grace) : "";
  const facts = recovered ? await inspect(ctx, subject, instance, release, false) : seen;
  const runAs = runAsUser(ctx, subject, instance, facts);
  const record = state.apps[app];

  if (record?.running && record.release === release && facts.current === release && facts.pid) {
    const same = canonicalJson(record.instance) === canonicalJson(instance);
    if (same || sameRuntime(record.instance, instance)) {
      // A recovery started the last good release again: it is up to date only once it passes its health gate.
      let health = "";
      if (recovered) {
        const gate = await healthGate(ctx, app, facts.pid, healthTimeoutMs);
        if (!gate.ok) throw fail(`${recovered}, but ${release} (pid ${facts.pid}) does not pass its health check: ${gate.cause}`);
        health = `, ${gate.detail}`;
      }
      if (same) {
        if (recovered) return { result: "changed", message: `${subject}: ${recovered}; up to date (${release}, pid ${facts.pid}${health})` };
        return { result: "unchanged", message: `${subject} is up to date (${release}, pid ${facts.pid})` };
      }
      await saveState(ctx, state, app, { ...record, instance });
      return { result: "changed", message: `${subject}: ${recovered ? `${recovered}; ` : ""}record updated; ${release} keeps running (pid ${facts.pid}${health}), nothing it runs with changed` };
    }
  }

  const uploaded = !facts.releaseExists && !facts.cached;
  if (uploaded) await upload(ctx, subject, instance, opts.packageFile, facts);
  if (!(await install(ctx, subject, instance, release, runAs, envText, !uploaded && !facts.releaseExists, grace, opts))) {
    ctx.log(`packages/${instance.sha256} on the host did not match its sha256; deleted it, uploading again`);
    await upload(ctx, subject, instance, opts.packageFile, { ...facts, baseExists: true, packagesDirExists: true });
    await install(ctx, subject, instance, release, runAs, envText, false, grace, opts);
  }

  // Intent before anything that runs changes: what is being deployed, and what to return to. The activate
  // script writes it first, in the same round trip, and changes nothing when that write fails.
  const before = structuredClone(state);
  markPending(state, app, { release, instance, previous: facts.current || null, previousRunning: Boolean(facts.pid), since: ctx.now() });
  ctx.log(`${facts.current && facts.current !== release ? `switching from ${facts.current} to` : "starting"} ${release}`);
  let pid = "";
  let gate: GateResult;
  try {
    pid = (await control(ctx, subject, app, ["activate", release], grace, state)).pid ?? "";
    gate = await healthGate(ctx, app, pid, healthTimeoutMs);
  } catch (e) {
    // The intent is written before anything that runs changes, and activate stops when that write fails.
    if (e instanceof StateWriteError) {
      const kept = facts.current ? `${facts.current} stays current${facts.pid ? " and keeps running" : ""}` : "no release was current";
      throw new StateWriteError(e.host, `${subject}: ${e.causeText} (the deploy records its intent there before switching to ${release}, so nothing was changed: ${kept})`);
    }
    gate = { ok: false, cause: ctx.signal?.aborted ? "cancelled while starting" : causeOf(e, subject) };
  }
  if (!gate.ok) {
    // Without the task's signal: a cancelled deploy must still put the previous release back.
    const rollbackCtx: TaskContext = { ...ctx, signal: undefined };
    return rollBack(rollbackCtx, subject, app, release, facts.current, Boolean(facts.pid), gate.cause, grace, healthTimeoutMs, before);
  }

  const previous = facts.current === release ? (record?.previous ?? null) : facts.current || null;
  markPending(state, app, null);
  setRecord(ctx, state, app, { instance, release, previous, running: true, deployedAt: ctx.now() });
  await recordAndPrune(ctx, state, app, grace, [release, previous ?? ""]).catch((e: unknown) => {
    if (!(e instanceof StateWriteError)) throw e;
    const back = previous ? `puts ${previous} back first` : "removes it first";
    throw new StateWriteError(e.host, `${subject}: ${release} runs (pid ${pid}), but recording it failed: ${e.causeText} (state.json still says the deploy is in progress, so the next deploy ${back})`);
  });
  return {
    result: "changed",
    message: `${subject}: deployed ${release} (pid ${pid}, ${gate.detail})${previous ? `; previous release ${previous}` : ""}`,
  };
}

/** Writes state.json, then (in the same round trip) removes the app's releases other than `keep` and the
 * packages no release uses. A failed write throws (nothing was removed); a failed prune is a warning. `grace`:
 * the app's stop grace, which bounds the wait for its lock (lib.sh lock_app). */
async function recordAndPrune(ctx: TaskContext, state: HostStateFile, app: string, grace: number, keep: string[]): Promise<void> {
  const text = stateFileText(state);
  const r = await runScript(ctx, "prune", app, [String(seconds(grace)), String(Buffer.byteLength(text)), STATE_WRITE_SH, ...keep], { stdin: text });
  if (r.code === 5) throw stateWriteError(ctx.session.host, r.stderr, r.code);
  if (r.code !== 0) ctx.log(`warning: pruning old releases failed: ${scriptError(r)}`);
}

/** The host's facts and, with `withState`, its state.json (read as readHostState reads it), in one round trip. */
async function inspect(ctx: TaskContext, subject: string, instance: HostInstance, release: string, withState: boolean): Promise<HostFacts> {
  const r = await runScript(ctx, "inspect", instance.app, [release, instance.sha256, instance.user ?? "", withState ? STATE_DUMP_SH : ""]);
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `${subject}: cannot inspect the host: ${scriptError(r)}`);
  const lines = r.stdout.split("\n");
  const cut = withState ? lines.indexOf("state") : -1;
  if (withState && cut < 0) throw new TaskError(ctx.session.host.host, `${subject}: cannot inspect the host: no state.json dump in its answer`);
  const f = fields((cut < 0 ? lines : lines.slice(0, cut)).join("\n"));
  const state = cut < 0 ? undefined : hostStateFromDump(ctx.session.host, lines.slice(cut + 1).join("\n"), ctx.env, ctx.now(), ctx.log);
  return {
    state,
    uid: f.uid ?? "",
    user: f.user ?? "",
    runasUid: f.runas_uid ?? "",
    baseExists: f.base === "1",
    packagesDirExists: f.packages === "1",
    cached: f.cached === "1",
    releaseExists: f.release === "1",
    current: f.current ?? "",
    pid: f.pid ?? "",
  };
}

/** The user the app must be switched to ("" = the login user), or a TaskError saying why it cannot be. */
function runAsUser(ctx: TaskContext, subject: string, instance: HostInstance, facts: HostFacts): string {
  const user = instance.user;
  const host = ctx.session.host.host;
  if (!user || user === facts.user) return "";
  if (facts.uid !== "0") {
    throw new TaskError(host, `${subject}: runs as user ${user}, but amphi logs in to ${host} as ${facts.user}, who cannot switch users; log in as root or as ${user}`);
  }
  if (!facts.runasUid) throw new TaskError(host, `${subject}: user ${user} does not exist on ${host}`);
  return user;
}

/** Uploads the package under a temp name and has the host check its sha256 before keeping it as
 * `packages/<sha256>`; on a mismatch the host deletes it (and the directories the upload created). */
async function upload(ctx: TaskContext, subject: string, instance: HostInstance, packageFile: string, facts: HostFacts): Promise<void> {
  const host = ctx.session.host.host;
  const size = await stat(packageFile).then(
    (s) => s.size,
    (e: Error) => {
      throw new TaskError(host, `${subject}: cannot read the package ${packageFile}: ${e.message}`);
    },
  );
  const dir = `${ctx.session.host.baseDir}/packages`;
  if (!facts.packagesDirExists) {
    const mk = await ctx.session.exec(["mkdir", "-p", dir], { signal: ctx.signal });
    if (mk.code !== 0) throw new TaskError(host, `${subject}: cannot create ${dir}: ${mk.stderr.trim()}`);
  }
  const name = `.upload.${instance.sha256.slice(0, 8)}.${randomBytes(4).toString("hex")}`;
  ctx.log(`uploading ${basename(packageFile)} (${size} bytes) to packages/${instance.sha256}`);
  try {
    await ctx.session.putFile(packageFile, `${dir}/${name}`, { signal: ctx.signal });
  } catch (e) {
    await ctx.session.exec(["rm", "-f", `${dir}/${name}`]).catch(() => {});
    throw e;
  }
  const r = await runScript(ctx, "receive", instance.app, [name, instance.sha256, facts.packagesDirExists ? "0" : "1", facts.baseExists ? "0" : "1"]);
  if (r.code === 3) throw new TaskError(host, `${subject}: ${mismatch(instance.sha256, fields(r.stdout).got ?? "")}`);
  if (r.code !== 0) throw new TaskError(host, `${subject}: ${scriptError(r)}`);
}

function mismatch(expected: string, got: string): string {
  return `sha256 mismatch for packages/${expected} (expected ${expected.slice(0, 12)}…, got ${got.slice(0, 12)}…)`;
}

/** Unpacks the release (unless it exists) and writes its env, start command, user and health check.
 * Returns false when `verify` found the cached package corrupt (the host deleted it). A package the host
 * refuses (tar cannot unpack it, or it unpacks past maxUnpackedSize) is deleted there and reported to
 * `opts.onRefusedPackage`; the TaskError names the package, and tar's reason or the size and the limit. Holds the
 * app's lock on the host, as the other scripts that change it do (`grace` bounds the wait: lib.sh lock_app). */
async function install(
  ctx: TaskContext,
  subject: string,
  instance: HostInstance,
  release: string,
  runAs: string,
  envText: string,
  verify: boolean,
  grace: number,
  opts: DeployOptions,
): Promise<boolean> {
  const health = instance.health;
  // The app's other listening ports, for the health gate's check that the app (not a process that held
  // a port first) is what listens on them.
  const ports = [...new Set(instance.ports.map((p) => p.port))].filter((p) => p !== health?.port).join(" ");
  const limit = ctx.session.host.maxUnpackedSize ?? DEFAULT_MAX_UNPACKED_SIZE;
  const args = [release, instance.sha256, instance.start, runAs, health ? String(health.port) : "", health?.path ?? "", verify ? "1" : "0", ports, String(limit), String(seconds(grace))];
  const r = await runScript(ctx, "install", instance.app, args, { stdin: envText, timeoutMs: 600_000 });
  if (r.code === 3) return false;
  if (r.code === 4) {
    await opts.onRefusedPackage?.();
    throw new TaskError(ctx.session.host.host, `${subject}: ${refusal(ctx.session.host.group, instance, fields(r.stdout), limit)}`);
  }
  if (r.code !== 0) throw new TaskError(ctx.session.host.host, `${subject}: cannot install ${release}: ${scriptError(r)}`);
  return true;
}

/** Puts `target` back as current (restoring its env and start command when the failed change was in
 * place) and restarts it when it ran before; without a target, leaves the app stopped. Always throws. */
async function rollBack(
  ctx: TaskContext,
  subject: string,
  app: string,
  failed: string,
  target: string,
  wasRunning: boolean,
  cause: string,
  grace: number,
  healthTimeoutMs: number,
  recordBefore: HostStateFile,
): Promise<never> {
  const host = ctx.session.host.host;
  let outcome: string;
  try {
    const out = await control(ctx, subject, app, ["rollback", target, failed, target && wasRunning ? "1" : "0"], grace);
    // Rolled back: state.json as it was before the deploy (its pending deploy gone). When the rollback
    // itself fails, the pending deploy stays for the next run to finish.
    await writeHostState(ctx.session, recordBefore);
    if (!target) outcome = "stopped; there is no previous release to roll back to";
    else if (!wasRunning) outcome = `rolled back to ${target} (left stopped, as it was)`;
    else {
      const again = await healthGate(ctx, app, out.pid ?? "", healthTimeoutMs);
      outcome = `rolled back to ${target}${again.ok ? "" : `, which fails too: ${again.cause}`}`;
    }
  } catch (e) {
    throw new TaskError(host, `${subject}: ${cause}; rollback failed: ${causeOf(e, subject)}`, false);
  }
  ctx.log(`${subject}: ${outcome}`);
  throw new TaskError(host, `${subject}: ${cause}; ${outcome}`, true);
}

/** Finishes a deploy whose run died: puts its last good release back as `current` (restoring the env and
 * start files an in-place change set aside), started when it ran before (nothing at all for a first
 * deploy), and removes the pending record. Returns what it did, for the task's message. */
async function recover(ctx: TaskContext, subject: string, state: HostStateFile, app: string, p: PendingDeploy, grace: number): Promise<string> {
  const target = p.previous ?? "";
  const what = `an interrupted deploy of ${p.release} (since ${p.since})`;
  ctx.log(`${app}: found ${what}; ${target ? `putting back the last good release ${target}` : "removing it (it was a first deploy)"}`);
  let out: Record<string, string>;
  try {
    out = await control(ctx, subject, app, ["rollback", target, p.release, target && p.previousRunning ? "1" : "0"], grace);
  } catch (e) {
    throw new TaskError(ctx.session.host.host, `${subject}: cannot undo ${what}: ${causeOf(e, subject)}`);
  }
  markPending(state, app, null);
  await writeHostState(ctx.session, state);
  if (out.missing) ctx.log(`${app}: the last good release ${out.missing} is no longer on the host; the app stays stopped until this deploy starts it`);
  return target && !out.missing ? `undid ${what}: back to ${target}` : `undid ${what}`;
}

/** The cause of an error without the subject prefixes tasks add. */
function causeOf(e: unknown, subject: string): string {
  if (e instanceof TaskError) return e.causeText.startsWith(`${subject}: `) ? e.causeText.slice(subject.length + 2) : e.causeText;
  if (e instanceof TransportError) return e.causeText;
  return e instanceof Error ? e.message : String(e);
}


// Installs, removes and probes a VM host's traffic capture rules (DESIGN.md "Traffic capture"): host I/O only.
// One round trip reads the live rules (scripts/capture-inspect.sh: `iptables-save -t nat` and `-t raw`), one
// applies (scripts/capture-apply.sh: iptables-restore --noflush with the restore input on stdin, then each hook
// with `iptables -C … || iptables -I … 1 …`); values travel only as arguments and on stdin. Parsing and the
// comparison with the desired rules are diff/iptables.ts (pure), so a second apply changes nothing. The rules
// are recorded in the host's state.json.
import { canonicalJson, type CaptureRules, type HostStateFile, type IptablesRestore } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import type { TaskOutcome } from "../ports/tasks.js";
import { captureDrift, captureState, firstLine, inSync, parseIptables, restoreError, restoreInput, restoreWaits } from "../diff/iptables.js";
import { TaskError } from "./errors.js";
import { SCRIPTS } from "./scripts.js";
import { readHostState, writeHostState } from "./state-file.js";

export interface CaptureContext {
  session: HostSession;
  env: string;
  now(): string;
  log(line: string): void;
}

/** How a capture task ended: the port's TaskOutcome. */
export type CaptureOutcome = TaskOutcome;

/** What the live rules are compared with: present (equal to the desired rules), missing (no AMPHI_* chain
 * and no hook at all), drifted (anything else: partly there, edited, or there while none are recorded). */
export type CaptureProbe = "present" | "missing" | "drifted";

interface Live {
  mode: "root" | "sudo";
  /** Whether iptables-restore takes --wait (1.6.2 and later). */
  restoreWaits: boolean;
  rules: IptablesRestore;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

async function readLive(session: HostSession): Promise<Live> {
  const host = session.host.host;
  const r = await session.exec(["sh", "-c", SCRIPTS["capture-inspect"], "amphi"]);
  if (r.code === 20) throw new TaskError(host, `capture: ${firstLine(r.stderr) || "iptables-restore"} not found on ${host} (install iptables)`);
  if (r.code === 21) throw new TaskError(host, `capture needs root on ${host}: connect as root or allow sudo -n iptables-restore (and iptables, iptables-save)`);
  if (r.code === 22) throw new TaskError(host, `capture: iptables-save failed: ${firstLine(r.stderr) || "exit 22"}`);
  if (r.code !== 0) throw new TaskError(host, `capture: reading the rules failed: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  const mode = /^mode (root|sudo)$/m.exec(r.stdout)?.[1] as "root" | "sudo" | undefined;
  if (!mode) throw new TaskError(host, "capture: unexpected output while reading the rules");
  const version = /^version (.*)$/m.exec(r.stdout)?.[1] ?? "";
  const rules = pure(host, "cannot parse iptables-save output: ", () => parseIptables(r.stdout.replace(/^(mode|version) .*$/gm, ""), "iptables-save"));
  return { mode, restoreWaits: restoreWaits(version), rules };
}

/** Runs a pure step, turning its error into a TaskError naming the host. */
function pure<T>(host: string, prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new TaskError(host, `capture: ${prefix}${(e as Error).message}`);
  }
}

/** Runs the apply script: restore `input`, then ensure `hooks`. Returns the hooks it inserted. */
async function runApply(session: HostSession, live: Live, input: string, hooks: CaptureRules["hooks"]): Promise<string[]> {
  const host = session.host.host;
  const args = hooks.map((h) => {
    const tokens = h.rule.split(/\s+/).filter(Boolean);
    if (tokens.some((t) => /["'\\\t]/.test(t))) throw new TaskError(host, `capture: unsupported hook rule: ${h.rule}`);
    return [h.table, h.chain, ...tokens].join("\t");
  });
  const r = await session.exec(["sh", "-c", SCRIPTS["capture-apply"], "amphi", live.mode, live.restoreWaits ? "--wait" : "", ...args], { stdin: input });
  if (r.code === 10) throw new TaskError(host, `capture: iptables-restore failed: ${restoreError(r.stderr) || "exit 10"}`);
  if (r.code === 11) throw new TaskError(host, `capture: inserting a hook failed: ${firstLine(r.stderr) || "exit 11"}`);
  if (r.code !== 0) throw new TaskError(host, `capture: applying the rules failed: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  return r.stdout.split("\n").filter((l) => l.startsWith("inserted ")).map((l) => l.slice("inserted ".length).replace(/\t/g, " "));
}

async function record(ctx: CaptureContext, state: HostStateFile, capture: CaptureRules | null): Promise<boolean> {
  if (canonicalJson(state.capture ?? null) === canonicalJson(capture)) return false;
  await writeHostState(ctx.session, { ...state, capture, updatedAt: ctx.now() });
  return true;
}

/** Makes the host's capture rules equal `rules` and records them in state.json. `unchanged` when the live
 * rules already are the desired ones (and recorded); otherwise one `iptables-restore --noflush` of the
 * fragment (plus removal of stale AMPHI_* chains and hooks), then each hook inserted where absent. */
export async function applyCapture(ctx: CaptureContext, rules: CaptureRules): Promise<CaptureOutcome> {
  const host = ctx.session.host.host;
  const live = await readLive(ctx.session);
  const drift = pure(host, "", () => captureDrift(live.rules, rules));
  const state = await readHostState(ctx.session, ctx.env, ctx.now());
  if (inSync(drift)) {
    if (await record(ctx, state, rules)) {
      ctx.log(`capture: rules already in place on ${host}; recorded in state.json`);
      return { result: "changed", message: "capture rules already in place; recorded in state.json" };
    }
    return { result: "unchanged", message: `capture rules in place (${plural(drift.desiredChains, "chain")}, ${plural(rules.hooks.length, "hook")})` };
  }
  const parts: string[] = [];
  if (drift.chains.length > 0) parts.push(`wrote ${drift.chains.join(", ")}`);
  if (drift.stale.length > 0) parts.push(`removed stale ${drift.stale.map((s) => s.chain).join(", ")}`);
  if (drift.extraHooks.length > 0) parts.push(`removed ${plural(drift.extraHooks.length, "stale hook")}`);
  ctx.log(`capture: iptables-restore --noflush on ${host} (${plural(drift.desiredChains, "AMPHI chain")}${parts.length ? `; ${parts.join("; ")}` : ""})`);
  const inserted = await runApply(ctx.session, live, restoreInput(rules, drift), rules.hooks);
  for (const h of inserted) ctx.log(`capture: inserted hook ${h}`);
  if (inserted.length > 0) parts.push(`inserted ${plural(inserted.length, "hook")}`);
  await record(ctx, state, rules);
  return { result: "changed", message: `capture rules applied: ${parts.join("; ") || "rewrote the AMPHI chains"}` };
}

/** Removes every hook into an AMPHI_* chain (all copies) and flushes and deletes every AMPHI_* chain in nat
 * and raw, then clears `capture` in state.json. `unchanged` when there was nothing to remove. */
export async function removeCapture(ctx: CaptureContext): Promise<CaptureOutcome> {
  const host = ctx.session.host.host;
  const live = await readLive(ctx.session);
  const drift = captureDrift(live.rules, null);
  const state = await readHostState(ctx.session, ctx.env, ctx.now());
  if (drift.liveEmpty) {
    if (await record(ctx, state, null)) {
      ctx.log(`capture: no rules on ${host}; cleared the record in state.json`);
      return { result: "changed", message: "no capture rules were installed; cleared the record in state.json" };
    }
    return { result: "unchanged", message: "no capture rules installed" };
  }
  const what = `${plural(drift.extraHooks.length, "hook")}, ${plural(drift.stale.length, "AMPHI chain")}`;
  ctx.log(`capture: removing ${what} on ${host}`);
  await runApply(ctx.session, live, restoreInput(null, drift), []);
  await record(ctx, state, null);
  return { result: "changed", message: `capture rules removed (${what})` };
}

/** Whether the host's capture rules are what `rules` (the state.json record) says (see captureState).
 * Throws TaskError when the rules cannot be read (no iptables, no root). */
export async function probeCapture(session: HostSession, rules: CaptureRules | null): Promise<CaptureProbe> {
  const live = await readLive(session);
  return pure(session.host.host, "", () => captureState(live.rules, rules));
}

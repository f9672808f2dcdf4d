// Installs, removes and probes a VM host's traffic capture rules (DESIGN.md "Traffic capture"): the AMPHI_*
// chains of the rendered `iptables-restore --noflush` fragment in the nat and raw tables, plus the hooks
// (jumps from built-in chains into them), recorded in the host's state.json.
//
// Every command is an argv vector: the fixed scripts below get values only as arguments or on stdin
// (the restore input), never inside their text. One round trip reads the live rules (`iptables-save -t nat`
// and `-t raw`), one applies: iptables-restore --noflush with the fragment, then each hook with
// `iptables -C … || iptables -I … 1 …`. The comparison with the desired rules is done here, on parsed
// iptables-save output (see normalizeRule), so a second apply of the same rules changes nothing.
//
// Chains and hooks amphi no longer renders (an older version's AMPHI_* chain, a hook whose form changed,
// a duplicated hook) are removed in the same restore: the live AMPHI_* chains and the jumps into them are
// amphi's by name.
import type { CaptureRules, HostStateFile } from "../model/index.js";
import type { HostSession } from "../ports/hosts.js";
import type { TaskOutcome } from "../ports/tasks.js";
import { TaskError } from "./errors.js";
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

const TABLES = ["nat", "raw"] as const;
type Table = (typeof TABLES)[number];
type Hook = CaptureRules["hooks"][number];

const OWN_CHAIN = /^AMPHI_[A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Host scripts (fixed text; values are positional arguments or stdin)

// Finds the binaries (non-login shells of unprivileged users often lack the sbin directories), decides
// how to run them (root, else `sudo -n` if it may run iptables-save), prints the mode, iptables-restore's
// version (for --wait) and both tables. Exit codes: 20 a binary is missing, 21 not root and no sudo -n,
// 22 iptables-save failed.
const INSPECT = `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
for b in iptables-restore iptables-save iptables; do
  command -v "$b" >/dev/null 2>&1 || { printf '%s\\n' "$b" >&2; exit 20; }
done
if [ "$(id -u)" = 0 ]; then
  mode=root
elif command -v sudo >/dev/null 2>&1 && sudo -n iptables-save -t nat >/dev/null 2>&1; then
  mode=sudo
else
  exit 21
fi
run() { if [ "$mode" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
printf 'mode %s\\n' "$mode"
printf 'version %s\\n' "$(iptables-restore --version 2>&1 | head -n 1)"
for t in nat raw; do
  printf '#amphi-table %s\\n' "$t"
  run iptables-save -t "$t" || exit 22
done
`;

// $1 = root|sudo, $2 = --wait or an empty string, then one argument per hook: table, chain and the rule's
// tokens separated by tabs (split here with IFS=tab and globbing off, so no value is ever parsed as shell
// syntax). stdin = the iptables-restore input. Exit codes: 10 iptables-restore failed, 11 a hook could not
// be inserted. Prints `inserted <table> <chain> <rule>` for each hook it had to insert.
const APPLY = `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
mode=$1 wait=$2
shift 2
run() { if [ "$mode" = sudo ]; then sudo -n "$@"; else "$@"; fi; }
if [ -n "$wait" ]; then
  run iptables-restore --noflush "$wait" || exit 10
else
  run iptables-restore --noflush || exit 10
fi
ifs=$IFS
tab=$(printf '\\t')
hook() {
  IFS=$ifs
  t=$1 c=$2
  shift 2
  run iptables -w -t "$t" -C "$c" "$@" 2>/dev/null && return 0
  run iptables -w -t "$t" -I "$c" 1 "$@" || exit 11
  printf 'inserted %s %s %s\\n' "$t" "$c" "$*"
}
set -f
for h do
  IFS=$tab
  hook $h
done
`;

// ---------------------------------------------------------------------------------------------
// Parsing and normalising iptables-save output and the rendered fragment

/** One table as amphi sees it: its AMPHI_* chains with their rules, and the hooks (rules of other chains
 * that jump or go to an AMPHI_* chain). Rules are normalised (see normalizeRule). */
interface TableView {
  chains: Map<string, string[]>;
  hooks: { key: string; line: string }[];
}
type View = Record<Table, TableView>;

function emptyView(): View {
  return { nat: { chains: new Map(), hooks: [] }, raw: { chains: new Map(), hooks: [] } };
}

/** Splits an iptables rule into tokens: whitespace-separated, `"..."` quoted (iptables-save quotes
 * comments, with `\"` and `\\` escaped). Quoted tokens are returned without the quotes. */
export function tokenizeRule(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let tok = "";
    while (i < text.length && !/\s/.test(text[i]!)) {
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === "\\" && i + 1 < text.length) i++;
          tok += text[i];
          i++;
        }
        i++; // closing quote
      } else {
        tok += text[i];
        i++;
      }
    }
    out.push(tok);
  }
  return out;
}

const BASIC: Record<string, string> = {
  "-s": "-s", "--source": "-s", "--src": "-s",
  "-d": "-d", "--destination": "-d", "--dst": "-d",
  "-i": "-i", "--in-interface": "-i",
  "-o": "-o", "--out-interface": "-o",
  "-p": "-p", "--protocol": "-p",
};
const BASIC_ORDER = ["-s", "-d", "-i", "-o", "-p"];
const IMPLICIT_MATCH = new Set(["tcp", "udp", "udplite", "sctp", "dccp", "icmp"]);

/** A rule (without `-A CHAIN`) in a form that is the same for what amphi renders and what iptables-save
 * prints for it: the address/interface/protocol options first in iptables-save's order (-s -d -i -o -p),
 * the implicit `-m tcp`/`-m udp` that iptables-save adds after `-p tcp` dropped, bare IPv4 addresses given
 * their `/32`, quotes removed; matches and target keep their order. */
export function normalizeRule(rule: string): string {
  const tokens = tokenizeRule(rule);
  const basic = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const neg = tokens[i] === "!" && BASIC[tokens[i + 1] ?? ""] !== undefined;
    const opt = BASIC[tokens[neg ? i + 1 : i]!];
    if (opt !== undefined && i + (neg ? 2 : 1) < tokens.length) {
      let value = tokens[i + (neg ? 2 : 1)]!;
      if ((opt === "-s" || opt === "-d") && /^\d+\.\d+\.\d+\.\d+$/.test(value)) value += "/32";
      if (opt === "-p") value = value.toLowerCase();
      basic.set(opt, neg ? ["!", opt, value] : [opt, value]);
      i += neg ? 2 : 1;
      continue;
    }
    rest.push(tokens[i]!);
  }
  const proto = basic.get("-p");
  const protoName = proto && proto[0] !== "!" ? proto[1] : undefined;
  const matches: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "-m" && protoName !== undefined && IMPLICIT_MATCH.has(protoName) && rest[i + 1] === protoName) {
      i++;
      continue;
    }
    matches.push(rest[i]!);
  }
  const ordered = BASIC_ORDER.flatMap((o) => basic.get(o) ?? []);
  return JSON.stringify([...ordered, ...matches]);
}

/** The chain a rule jumps (`-j`) or goes (`-g`) to, if any. */
function targetOf(tokens: string[]): string | undefined {
  for (let i = 0; i < tokens.length - 1; i++) if (tokens[i] === "-j" || tokens[i] === "-g") return tokens[i + 1];
  return undefined;
}

/** Parses `iptables-save` output (or restore input) into the parts amphi owns. */
function parseRules(text: string, where: string): View {
  const view = emptyView();
  let table: Table | undefined;
  let skipping = false; // a table amphi does not look at
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      const name = line.slice(1);
      table = name === "nat" || name === "raw" ? name : undefined;
      skipping = table === undefined;
      continue;
    }
    if (skipping) continue;
    if (line === "COMMIT") {
      table = undefined;
      continue;
    }
    if (table === undefined) throw new Error(`${where}: rule outside a table: ${line}`);
    const t = view[table];
    if (line.startsWith(":")) {
      const chain = line.slice(1).split(/\s+/)[0]!;
      if (OWN_CHAIN.test(chain) && !t.chains.has(chain)) t.chains.set(chain, []);
      continue;
    }
    const m = /^(-A|--append)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) {
      if (/^(-N|--new-chain)\s+AMPHI_/.test(line)) {
        const chain = line.split(/\s+/)[1]!;
        if (!t.chains.has(chain)) t.chains.set(chain, []);
        continue;
      }
      throw new Error(`${where}: unexpected line: ${line}`);
    }
    const chain = m[2]!;
    const rule = m[3]!;
    if (OWN_CHAIN.test(chain)) {
      const rules = t.chains.get(chain) ?? [];
      rules.push(normalizeRule(rule));
      t.chains.set(chain, rules);
    } else if (OWN_CHAIN.test(targetOf(tokenizeRule(rule)) ?? "")) {
      t.hooks.push({ key: hookKey(chain, rule), line: `${chain} ${rule}` });
    }
  }
  return view;
}

function hookKey(chain: string, rule: string): string {
  return `${chain} ${normalizeRule(rule)}`;
}

/** The desired view: the fragment's chains and the hooks. */
function desiredView(rules: CaptureRules): View {
  const view = parseRules(rules.fragment, "capture fragment");
  for (const h of rules.hooks) view[h.table].hooks.push({ key: hookKey(h.chain, h.rule), line: `${h.chain} ${h.rule}` });
  return view;
}

/** How the live rules differ from the desired ones (or, with `desired` null, everything there is). */
interface Drift {
  /** AMPHI_* chains whose rules differ or that are missing. */
  chains: string[];
  /** AMPHI_* chains that are live but not desired: to flush and delete. */
  stale: { table: Table; chain: string }[];
  /** Desired hooks not live. */
  missingHooks: Hook[];
  /** Live hooks that are not desired, or extra copies: to delete (their iptables-save text). */
  extraHooks: { table: Table; line: string }[];
}

function driftOf(live: View, desired: View | null, hooks: Hook[]): Drift {
  const drift: Drift = { chains: [], stale: [], missingHooks: [], extraHooks: [] };
  for (const table of TABLES) {
    const l = live[table];
    const d = desired?.[table] ?? { chains: new Map<string, string[]>(), hooks: [] };
    for (const [chain, rules] of d.chains) {
      const have = l.chains.get(chain);
      if (!have || have.length !== rules.length || have.some((r, i) => r !== rules[i])) drift.chains.push(chain);
    }
    for (const chain of l.chains.keys()) if (!d.chains.has(chain)) drift.stale.push({ table, chain });
    const unmatched = [...l.hooks];
    for (const want of d.hooks) {
      const at = unmatched.findIndex((h) => h.key === want.key);
      if (at >= 0) unmatched.splice(at, 1);
      else drift.missingHooks.push(hooks.find((h) => h.table === table && hookKey(h.chain, h.rule) === want.key)!);
    }
    for (const h of unmatched) drift.extraHooks.push({ table, line: h.line });
  }
  return drift;
}

const inSync = (d: Drift) => d.chains.length + d.stale.length + d.missingHooks.length + d.extraHooks.length === 0;

/** Restore lines that delete extra hooks, then flush and delete stale chains, per table. Hooks go first
 * (a chain still referenced cannot be deleted), all flushes before any delete (stale chains may jump to
 * each other). */
function cleanupLines(drift: Drift, table: Table): string[] {
  const stale = drift.stale.filter((s) => s.table === table).map((s) => s.chain);
  return [
    ...drift.extraHooks.filter((h) => h.table === table).map((h) => `-D ${h.line}`),
    ...stale.map((c) => `-F ${c}`),
    ...stale.map((c) => `-X ${c}`),
  ];
}

/** The fragment with the cleanup lines added before each table's COMMIT (a table section is added for a
 * table the fragment does not have). */
function restoreInput(fragment: string | null, drift: Drift): string {
  const lines = fragment === null ? [] : fragment.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  const seen = new Set<Table>();
  let table: string | undefined;
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed.startsWith("*")) table = trimmed.slice(1);
    if (trimmed === "COMMIT" && (table === "nat" || table === "raw")) {
      seen.add(table);
      out.push(...cleanupLines(drift, table));
    }
    out.push(line);
  }
  for (const t of TABLES) {
    const extra = seen.has(t) ? [] : cleanupLines(drift, t);
    if (extra.length > 0) out.push(`*${t}`, ...extra, "COMMIT");
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Talking to the host

interface Live {
  mode: "root" | "sudo";
  /** Whether iptables-restore takes --wait (1.6.2 and later). */
  restoreWaits: boolean;
  view: View;
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/** iptables-restore's error: its first line, plus the line number it names. */
function restoreError(stderr: string): string {
  const first = firstLine(stderr);
  const at = /Error occurred at line: (\d+)/.exec(stderr);
  return at && !first.includes("Error occurred") ? `${first} (input line ${at[1]})` : first;
}

function waitsFor(version: string): boolean {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return true; // unknown: assume a current iptables
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

async function readLive(session: HostSession): Promise<Live> {
  const host = session.host.host;
  const r = await session.exec(["sh", "-c", INSPECT, "amphi"]);
  if (r.code === 20) throw new TaskError(host, `capture: ${firstLine(r.stderr) || "iptables-restore"} not found on ${host} (install iptables)`);
  if (r.code === 21) {
    throw new TaskError(host, `capture needs root on ${host}: connect as root or allow sudo -n iptables-restore (and iptables, iptables-save)`);
  }
  if (r.code === 22) throw new TaskError(host, `capture: iptables-save failed: ${firstLine(r.stderr) || "exit 22"}`);
  if (r.code !== 0) throw new TaskError(host, `capture: reading the rules failed: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  const mode = /^mode (root|sudo)$/m.exec(r.stdout)?.[1] as "root" | "sudo" | undefined;
  if (!mode) throw new TaskError(host, "capture: unexpected output while reading the rules");
  const version = /^version (.*)$/m.exec(r.stdout)?.[1] ?? "";
  let view: View;
  try {
    view = parseRules(r.stdout.replace(/^(mode|version) .*$/gm, ""), "iptables-save");
  } catch (e) {
    throw new TaskError(host, `capture: cannot parse iptables-save output: ${(e as Error).message}`);
  }
  return { mode, restoreWaits: waitsFor(version), view };
}

/** Runs the apply script: restore `input`, then ensure `hooks`. Returns the hooks it inserted. */
async function runApply(session: HostSession, live: Live, input: string, hooks: Hook[]): Promise<string[]> {
  const host = session.host.host;
  const args = hooks.map((h) => {
    const tokens = h.rule.split(/\s+/).filter(Boolean);
    if (tokens.some((t) => /["'\\\t]/.test(t))) throw new TaskError(host, `capture: unsupported hook rule: ${h.rule}`);
    return [h.table, h.chain, ...tokens].join("\t");
  });
  const r = await session.exec(["sh", "-c", APPLY, "amphi", live.mode, live.restoreWaits ? "--wait" : "", ...args], { stdin: input });
  if (r.code === 10) throw new TaskError(host, `capture: iptables-restore failed: ${restoreError(r.stderr) || "exit 10"}`);
  if (r.code === 11) throw new TaskError(host, `capture: inserting a hook failed: ${firstLine(r.stderr) || "exit 11"}`);
  if (r.code !== 0) throw new TaskError(host, `capture: applying the rules failed: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  return r.stdout.split("\n").filter((l) => l.startsWith("inserted ")).map((l) => l.slice("inserted ".length).replace(/\t/g, " "));
}

/** JSON with sorted keys, to compare records whatever order their keys were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

async function record(ctx: CaptureContext, state: HostStateFile, capture: CaptureRules | null): Promise<boolean> {
  if (canonical(state.capture ?? null) === canonical(capture)) return false;
  await writeHostState(ctx.session, { ...state, capture, updatedAt: ctx.now() });
  return true;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------------
// The operations

/** Makes the host's capture rules equal `rules` and records them in state.json. `unchanged` when the live
 * rules already are the desired ones (and recorded); otherwise one `iptables-restore --noflush` of the
 * fragment (plus removal of stale AMPHI_* chains and hooks), then each hook inserted where absent. */
export async function applyCapture(ctx: CaptureContext, rules: CaptureRules): Promise<CaptureOutcome> {
  const { session } = ctx;
  const host = session.host.host;
  const live = await readLive(session);
  let desired: View;
  try {
    desired = desiredView(rules);
  } catch (e) {
    throw new TaskError(host, `capture: ${(e as Error).message}`);
  }
  const drift = driftOf(live.view, desired, rules.hooks);
  const state = await readHostState(session, ctx.env, ctx.now());
  const chains = TABLES.reduce((n, t) => n + desired[t].chains.size, 0);

  if (inSync(drift)) {
    if (await record(ctx, state, rules)) {
      ctx.log(`capture: rules already in place on ${host}; recorded in state.json`);
      return { result: "changed", message: "capture rules already in place; recorded in state.json" };
    }
    return { result: "unchanged", message: `capture rules in place (${plural(chains, "chain")}, ${plural(rules.hooks.length, "hook")})` };
  }

  const parts: string[] = [];
  if (drift.chains.length > 0) parts.push(`wrote ${drift.chains.join(", ")}`);
  if (drift.stale.length > 0) parts.push(`removed stale ${drift.stale.map((s) => s.chain).join(", ")}`);
  if (drift.extraHooks.length > 0) parts.push(`removed ${plural(drift.extraHooks.length, "stale hook")}`);
  ctx.log(`capture: iptables-restore --noflush on ${host} (${plural(chains, "AMPHI chain")}${parts.length ? `; ${parts.join("; ")}` : ""})`);
  const inserted = await runApply(session, live, restoreInput(rules.fragment, drift), rules.hooks);
  for (const h of inserted) ctx.log(`capture: inserted hook ${h}`);
  if (inserted.length > 0) parts.push(`inserted ${plural(inserted.length, "hook")}`);
  await record(ctx, state, rules);
  return { result: "changed", message: `capture rules applied: ${parts.join("; ") || "rewrote the AMPHI chains"}` };
}

/** Removes every hook into an AMPHI_* chain (all copies) and flushes and deletes every AMPHI_* chain in nat
 * and raw, then clears `capture` in state.json. `unchanged` when there was nothing to remove. */
export async function removeCapture(ctx: CaptureContext): Promise<CaptureOutcome> {
  const { session } = ctx;
  const host = session.host.host;
  const live = await readLive(session);
  const drift = driftOf(live.view, null, []);
  const state = await readHostState(session, ctx.env, ctx.now());
  if (drift.stale.length + drift.extraHooks.length === 0) {
    if (await record(ctx, state, null)) {
      ctx.log(`capture: no rules on ${host}; cleared the record in state.json`);
      return { result: "changed", message: "no capture rules were installed; cleared the record in state.json" };
    }
    return { result: "unchanged", message: "no capture rules installed" };
  }
  const what = `${plural(drift.extraHooks.length, "hook")}, ${plural(drift.stale.length, "AMPHI chain")}`;
  ctx.log(`capture: removing ${what} on ${host}`);
  await runApply(session, live, restoreInput(null, drift), []);
  await record(ctx, state, null);
  return { result: "changed", message: `capture rules removed (${what})` };
}

/** Whether the host's capture rules are what `rules` (the state.json record) says: `present` when the
 * AMPHI_* chains and hooks equal them, `missing` when there is no AMPHI_* chain and no hook at all,
 * `drifted` otherwise (also when rules are there but `rules` is null). Throws TaskError when the rules
 * cannot be read (no iptables, no root). */
export async function probeCapture(session: HostSession, rules: CaptureRules | null): Promise<CaptureProbe> {
  const live = await readLive(session);
  const nothing = TABLES.every((t) => live.view[t].chains.size === 0 && live.view[t].hooks.length === 0);
  if (nothing) return "missing";
  if (rules === null) return "drifted";
  let desired: View;
  try {
    desired = desiredView(rules);
  } catch (e) {
    throw new TaskError(session.host.host, `capture: ${(e as Error).message}`);
  }
  return inSync(driftOf(live.view, desired, rules.hooks)) ? "present" : "drifted";
}

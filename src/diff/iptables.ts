// Capture drift, pure: `iptables-save` output (and amphi's own restore fragments) parsed into IptablesRestore,
// the parts amphi owns picked out (AMPHI_* chains and the hooks that jump into them, in nat and raw), and
// compared with the desired CaptureRules. In: text and rules. Out: a CaptureDrift, and the restore input that
// repairs it (formatted by runtimes/capture/iptables.ts). The host I/O around it is hosts/capture.ts.
import type { CaptureRules, IptablesOp, IptablesRestore, IptablesTable } from "../model/index.js";
import { formatRestore } from "../runtimes/capture/iptables.js";

/** The tables capture uses; iptables-save's other tables are skipped unread. */
export const CAPTURE_TABLES = ["nat", "raw"] as const;
export type CaptureTable = (typeof CAPTURE_TABLES)[number];
type Hook = CaptureRules["hooks"][number];

const OWN_CHAIN = /^AMPHI_[A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Tokenizer and parser

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

/** Parses `iptables-save` output or `iptables-restore` input: comment lines before the first table, then
 * the nat and raw tables (`:CHAIN POLICY [n:m]` declarations, `-A`/`--append` rules, `-N AMPHI_*`). Other
 * tables are skipped. Throws naming `where` and the line for anything else. */
export function parseIptables(text: string, where: string): IptablesRestore {
  const doc: IptablesRestore = { comments: [], tables: [] };
  let table: IptablesTable | undefined;
  let skipping = false; // a table amphi does not look at
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") && doc.tables.length === 0 && !table && !skipping) doc.comments.push(line);
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      const name = line.slice(1);
      skipping = !(CAPTURE_TABLES as readonly string[]).includes(name);
      table = skipping ? undefined : tableOf(doc, name);
      continue;
    }
    if (skipping) continue;
    if (line === "COMMIT") {
      table = undefined;
      continue;
    }
    if (table === undefined) throw new Error(`${where}: rule outside a table: ${line}`);
    const op = parseLine(line);
    if (op === undefined) throw new Error(`${where}: unexpected line: ${line}`);
    if ("policy" in op) table.chains.push(op);
    else table.ops.push(op);
  }
  return doc;
}

/** The table section `name` of `doc` (a table seen twice, as in two dumps, is one section). */
function tableOf(doc: IptablesRestore, name: string): IptablesTable {
  let t = doc.tables.find((x) => x.name === name);
  if (!t) doc.tables.push((t = { name, chains: [], ops: [] }));
  return t;
}

function parseLine(line: string): IptablesOp | { name: string; policy: string } | undefined {
  if (line.startsWith(":")) {
    const [name, policy] = line.slice(1).split(/\s+/);
    return { name: name!, policy: policy ?? "-" };
  }
  const [flag, chain, ...args] = tokenizeRule(line);
  if ((flag === "-A" || flag === "--append") && chain !== undefined) return { op: "-A", chain, args };
  if ((flag === "-N" || flag === "--new-chain") && chain !== undefined && chain.startsWith("AMPHI_")) return { op: "-N", chain, args };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Rule normalisation

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
  return normalizeArgs(tokenizeRule(rule));
}

/** normalizeRule of a rule already split into tokens. */
export function normalizeArgs(tokens: readonly string[]): string {
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
function targetOf(tokens: readonly string[]): string | undefined {
  for (let i = 0; i < tokens.length - 1; i++) if (tokens[i] === "-j" || tokens[i] === "-g") return tokens[i + 1];
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// What amphi owns, and how it differs

/** One table as amphi sees it: its AMPHI_* chains with their rules, and the hooks (rules of other chains
 * that jump or go to an AMPHI_* chain). Rules are normalised (see normalizeRule). */
interface OwnedTable {
  chains: Map<string, string[]>;
  hooks: { key: string; op: IptablesOp }[];
}
type Owned = Record<CaptureTable, OwnedTable>;

/** The AMPHI_* chains and hooks of a parsed dump or fragment. */
function owned(doc: IptablesRestore): Owned {
  const view: Owned = { nat: { chains: new Map(), hooks: [] }, raw: { chains: new Map(), hooks: [] } };
  for (const t of doc.tables) {
    const v = view[t.name as CaptureTable];
    if (!v) continue;
    for (const c of t.chains) if (OWN_CHAIN.test(c.name) && !v.chains.has(c.name)) v.chains.set(c.name, []);
    for (const op of t.ops) {
      if (OWN_CHAIN.test(op.chain)) {
        const rules = v.chains.get(op.chain) ?? [];
        if (op.op === "-A") rules.push(normalizeArgs(op.args));
        v.chains.set(op.chain, rules);
      } else if (op.op === "-A" && OWN_CHAIN.test(targetOf(op.args) ?? "")) {
        v.hooks.push({ key: hookKey(op.chain, op.args), op });
      }
    }
  }
  return view;
}

function hookKey(chain: string, args: readonly string[]): string {
  return `${chain} ${normalizeArgs(args)}`;
}

/** The desired view: the fragment's chains and the hooks. */
function desiredOwned(rules: CaptureRules): Owned {
  const view = owned(parseIptables(rules.fragment, "capture fragment"));
  for (const h of rules.hooks) {
    const args = tokenizeRule(h.rule);
    view[h.table].hooks.push({ key: hookKey(h.chain, args), op: { op: "-A", chain: h.chain, args } });
  }
  return view;
}

/** How the live rules differ from the desired ones (or, with no rules desired, everything there is). */
export interface CaptureDrift {
  /** AMPHI_* chains whose rules differ or that are missing. */
  chains: string[];
  /** AMPHI_* chains that are live but not desired: to flush and delete. */
  stale: { table: CaptureTable; chain: string }[];
  /** Desired hooks not live. */
  missingHooks: Hook[];
  /** Live hooks that are not desired, or extra copies: to delete. */
  extraHooks: { table: CaptureTable; op: IptablesOp }[];
  /** How many AMPHI_* chains are desired. */
  desiredChains: number;
  /** Whether nothing of amphi's (no AMPHI_* chain, no hook) is live. */
  liveEmpty: boolean;
}

/** Compares the parsed live dump with `rules` (null: none desired). Throws when the rules' fragment does
 * not parse. */
export function captureDrift(live: IptablesRestore, rules: CaptureRules | null): CaptureDrift {
  const have = owned(live);
  const want = rules === null ? null : desiredOwned(rules);
  const drift: CaptureDrift = { chains: [], stale: [], missingHooks: [], extraHooks: [], desiredChains: 0, liveEmpty: true };
  for (const table of CAPTURE_TABLES) {
    const l = have[table];
    const d = want?.[table] ?? { chains: new Map<string, string[]>(), hooks: [] };
    drift.desiredChains += d.chains.size;
    if (l.chains.size > 0 || l.hooks.length > 0) drift.liveEmpty = false;
    for (const [chain, rules] of d.chains) {
      const got = l.chains.get(chain);
      if (!got || got.length !== rules.length || got.some((r, i) => r !== rules[i])) drift.chains.push(chain);
    }
    for (const chain of l.chains.keys()) if (!d.chains.has(chain)) drift.stale.push({ table, chain });
    const unmatched = [...l.hooks];
    for (const w of d.hooks) {
      const at = unmatched.findIndex((h) => h.key === w.key);
      if (at >= 0) unmatched.splice(at, 1);
      else drift.missingHooks.push(rules!.hooks.find((h) => h.table === table && hookKey(h.chain, tokenizeRule(h.rule)) === w.key)!);
    }
    for (const h of unmatched) drift.extraHooks.push({ table, op: h.op });
  }
  return drift;
}

/** Whether the live rules are the desired ones. */
export function inSync(d: CaptureDrift): boolean {
  return d.chains.length + d.stale.length + d.missingHooks.length + d.extraHooks.length === 0;
}

/** What the live rules are compared with `rules` (the state.json record): present (equal), missing (no
 * AMPHI_* chain and no hook at all), drifted (anything else, also rules live while none are recorded). */
export function captureState(live: IptablesRestore, rules: CaptureRules | null): "present" | "missing" | "drifted" {
  if (captureDrift(live, null).liveEmpty) return "missing";
  return rules !== null && inSync(captureDrift(live, rules)) ? "present" : "drifted";
}

/** The restore input that makes the live rules `rules` (null: none): the fragment's tables with the
 * cleanup lines before each COMMIT (a table section added for a table the fragment lacks). Hooks go first
 * (a chain still referenced cannot be deleted), all flushes before any delete (stale chains may jump to
 * each other). Without cleanup it is the fragment byte for byte. */
export function restoreInput(rules: CaptureRules | null, drift: CaptureDrift): string {
  if (rules !== null && drift.extraHooks.length + drift.stale.length === 0) return rules.fragment;
  const doc = rules === null ? { comments: [], tables: [] } : parseIptables(rules.fragment, "capture fragment");
  for (const table of CAPTURE_TABLES) {
    const stale = drift.stale.filter((s) => s.table === table).map((s) => s.chain);
    const cleanup: IptablesOp[] = [
      ...drift.extraHooks.filter((h) => h.table === table).map((h): IptablesOp => ({ ...h.op, op: "-D" })),
      ...stale.map((chain): IptablesOp => ({ op: "-F", chain, args: [] })),
      ...stale.map((chain): IptablesOp => ({ op: "-X", chain, args: [] })),
    ];
    const section = doc.tables.find((t) => t.name === table);
    if (section) section.ops.push(...cleanup);
    else if (cleanup.length > 0) doc.tables.push({ name: table, chains: [], ops: cleanup });
  }
  return formatRestore(doc);
}

// ---------------------------------------------------------------------------------------------
// What the iptables binaries print

/** The first non-blank line of a text, trimmed ("" when there is none). */
export function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/** iptables-restore's error: its first line, plus the input line number it names. */
export function restoreError(stderr: string): string {
  const first = firstLine(stderr);
  const at = /Error occurred at line: (\d+)/.exec(stderr);
  return at && !first.includes("Error occurred") ? `${first} (input line ${at[1]})` : first;
}

/** Whether the iptables-restore of `version` (its `--version` line) takes --wait: 1.6.2 and later, and
 * any version it cannot read (assumed current). */
export function restoreWaits(version: string): boolean {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return true;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return a > 1 || (a === 1 && (b > 6 || (b === 6 && c >= 2)));
}

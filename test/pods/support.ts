// Shared by the stand-in pod tests: iptables rules as a comparable map, from restore input or iptables-save.
import { normalizeArgs, parseIptables } from "../../src/diff/iptables.js";

/** `table/chain` → the chain's rules (normalized as iptables-save prints them), for the nat and raw tables: every
 * declared AMPHI_* chain (even empty) and every chain with rules. Restore input and the iptables-save of what it
 * installed give the same map. */
export function rulesByChain(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of parseIptables(text, "rules").tables) {
    if (t.name !== "nat" && t.name !== "raw") continue;
    for (const c of t.chains) if (c.name.startsWith("AMPHI_")) out[`${t.name}/${c.name}`] ??= [];
    for (const op of t.ops) (out[`${t.name}/${op.chain}`] ??= []).push(`${op.op} ${normalizeArgs(op.args)}`);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

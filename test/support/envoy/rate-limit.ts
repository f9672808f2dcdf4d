// The local rate limit HTTP filter of the Envoy test double: a token bucket per filter config (one per listener
// filter chain, shared by its connections, as Envoy's is per worker-less listener): `max_tokens` to start,
// `tokens_per_fill` more every `fill_interval`, never above `max_tokens`; enabled/enforced percentages honoured.
import { durationMs, unwrap } from "./shape.js";

interface Bucket {
  tokens: number;
  lastFill: number;
}

const buckets = new Map<string, Bucket>();

/** Takes a token for one request; false: the request is over the limit (and enforced). */
export function takeToken(cfg: Record<string, any>, now = Date.now()): boolean {
  if (!rolls(cfg.filter_enabled)) return true;
  const key = JSON.stringify(cfg);
  const max = Number(cfg.token_bucket?.max_tokens ?? 0);
  const perFill = unwrap(cfg.token_bucket?.tokens_per_fill, 1);
  const interval = Math.max(1, durationMs(cfg.token_bucket?.fill_interval) ?? 1000);
  const b = buckets.get(key) ?? { tokens: max, lastFill: now };
  const fills = Math.floor((now - b.lastFill) / interval);
  if (fills > 0) {
    b.tokens = Math.min(max, b.tokens + fills * perFill);
    b.lastFill += fills * interval;
  }
  buckets.set(key, b);
  if (b.tokens >= 1) {
    b.tokens--;
    return true;
  }
  return !rolls(cfg.filter_enforced);
}

/** A RuntimeFractionalPercent (absent: 0 %, Envoy's default) rolled once. */
function rolls(p: any): boolean {
  if (!p) return false;
  const d = p.default_value ?? {};
  const denominator = d.denominator === "TEN_THOUSAND" ? 10_000 : d.denominator === "MILLION" ? 1_000_000 : 100;
  return Math.random() * denominator < Number(d.numerator ?? 0);
}

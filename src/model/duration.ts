// Go durations as Consul reads and writes them: amphi's config says `15s` or `1m`, Consul answers with
// Go's `time.Duration.String()` (`15s`, `1m0s`, `1h30m0s`, `500ms`).

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go duration (`1m30s`, `500ms`, `0`), or null when it is not one. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return null;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return s.length > 0 ? ms : null;
}

/** Go's `time.Duration.String()` of a whole number of milliseconds: `0s`, `500ms`, `15s`, `1m0s`, `1h0m0s`. */
export function formatDuration(ms: number): string {
  const whole = Math.round(ms);
  if (whole === 0) return "0s";
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const sMs = whole % 60_000;
  const s = sMs % 1000 === 0 ? String(sMs / 1000) : (sMs / 1000).toFixed(3).replace(/0+$/, "");
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

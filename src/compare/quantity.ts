// Kubernetes resource quantities (`500m`, `0.5`, `1Gi`, `1024Mi`): the API server returns them in
// canonical form, so `cpu: 0.5` in a spec comes back as `"500m"`. Comparing them as strings would show
// a change on every plan; comparing their values does not.

const SUFFIX: Record<string, number> = {
  "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The value of a quantity (a number, or a string like `100m` / `1Gi` / `1e3`), or null when it is not one. */
export function quantityValue(q: unknown): number | null {
  if (typeof q === "number") return Number.isFinite(q) ? q : null;
  if (typeof q !== "string") return null;
  const m = QUANTITY.exec(q.trim());
  if (!m) return null;
  const base = Number(m[1]);
  return m[2] ? base * 10 ** Number(m[2].slice(1)) : base * SUFFIX[m[3] ?? ""]!;
}

/** Whether two quantities have the same value (relative tolerance for float rounding: 1e-9). */
export function sameQuantity(a: unknown, b: unknown): boolean {
  const x = quantityValue(a);
  const y = quantityValue(b);
  if (x === null || y === null) return false;
  return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

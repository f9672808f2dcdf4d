// Resource quantities in canonical form, as the apiserver stores them: "0.5" → "500m",
// "1000m" → "1", "1024Mi" → "1Gi", 2 → "2". Binary suffixes stay binary when the value is a whole
// number of bytes; everything else is written with the largest decimal suffix that keeps the number
// whole. Exponent forms ("1e3") and strings that do not parse are returned unchanged.

const DECIMAL: [string, number][] = [["E", 18], ["P", 15], ["T", 12], ["G", 9], ["M", 6], ["k", 3], ["", 0], ["m", -3], ["u", -6], ["n", -9]];
const BINARY: [string, number][] = [["Ei", 6], ["Pi", 5], ["Ti", 4], ["Gi", 3], ["Mi", 2], ["Ki", 1], ["", 0]];
const NANO = 10n ** 9n;

/** The value in nano-units (rounded up, like the apiserver), or undefined if it does not parse. */
function toNano(mantissa: string, suffix: string): bigint | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(mantissa);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const [, sign, whole = "", frac = ""] = m;
  const digits = BigInt(`${whole}${frac}` || "0");
  let scale = -frac.length; // value = digits × 10^scale × multiplier
  let multiplier = 1n;
  const bin = BINARY.find(([s]) => s === suffix && s !== "");
  if (bin) multiplier = 1024n ** BigInt(bin[1]);
  else {
    const dec = DECIMAL.find(([s]) => s === suffix);
    if (!dec) return undefined;
    scale += dec[1];
  }
  scale += 9; // to nano-units
  let nano = digits * multiplier;
  if (scale >= 0) nano *= 10n ** BigInt(scale);
  else {
    const div = 10n ** BigInt(-scale);
    nano = (nano + div - 1n) / div;
  }
  return sign === "-" ? -nano : nano;
}

function decimalForm(nano: bigint): string {
  const abs = nano < 0n ? -nano : nano;
  const sign = nano < 0n ? "-" : "";
  if (abs === 0n) return "0";
  for (const [suffix, exp] of DECIMAL) {
    const unit = exp + 9 >= 0 ? 10n ** BigInt(exp + 9) : 1n;
    if (abs % unit === 0n) return `${sign}${abs / unit}${suffix}`;
  }
  return `${sign}${abs}n`;
}

/** The canonical string of a quantity given as a string or number. */
export function canonicalQuantity(q: unknown): unknown {
  if (typeof q === "number") q = String(q);
  if (typeof q !== "string") return q;
  const m = /^([+-]?[\d.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/.exec(q.trim());
  if (!m) return q;
  const nano = toNano(m[1]!, m[2]!);
  if (nano === undefined) return q;
  if (m[2]!.endsWith("i") && nano >= 0n && nano % NANO === 0n) {
    const bytes = nano / NANO;
    if (bytes === 0n) return "0";
    for (const [suffix, pow] of BINARY) {
      const unit = 1024n ** BigInt(pow);
      if (bytes % unit === 0n) return `${bytes / unit}${suffix}`;
    }
  }
  return decimalForm(nano);
}

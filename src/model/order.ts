// The one string order every stage sorts by.

/** Compares two strings by UTF-16 code units. Used for every sort in amphi.
 * Why not `localeCompare`: its order depends on the machine's ICU data and locale, and the same
 * config must render the same bytes on a laptop and in CI. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

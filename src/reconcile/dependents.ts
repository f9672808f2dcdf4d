// Which apps depend, directly or through others, on a set of failed apps. Pure.

/** Maps every app that (transitively) depends on one of `failed` to the failed app it waits for. */
export function dependents(deps: Record<string, string[]>, failed: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [app, on] of Object.entries(deps)) {
      if (out.has(app) || failed.has(app)) continue;
      const hit = on.find((d) => failed.has(d) || out.has(d));
      if (hit !== undefined) {
        out.set(app, failed.has(hit) ? hit : out.get(hit)!);
        grew = true;
      }
    }
  }
  return out;
}

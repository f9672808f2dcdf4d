// Waves: an app's place in the dependsOn DAG. wave(app) = 1 + max(wave(dep)); an app without deps is wave 1.

/** Computes the wave of every app in `deps` (and of every app named only as a dependency, as wave 1).
 * A cycle cannot come from a validated model; if one slips through it throws naming the cycle rather
 * than recursing forever. */
export function appWaves(deps: Readonly<Record<string, readonly string[]>>): Map<string, number> {
  const waves = new Map<string, number>();
  const visiting: string[] = [];
  const waveOf = (app: string): number => {
    const known = waves.get(app);
    if (known !== undefined) return known;
    if (visiting.includes(app)) {
      const cycle = [...visiting.slice(visiting.indexOf(app)), app].join(" → ");
      throw new Error(`dependsOn cycle: ${cycle}`);
    }
    visiting.push(app);
    const own = Object.hasOwn(deps, app) ? deps[app]! : [];
    const wave = 1 + own.reduce((max, dep) => Math.max(max, waveOf(dep)), 0);
    visiting.pop();
    waves.set(app, wave);
    return wave;
  };
  for (const app of Object.keys(deps)) waveOf(app);
  return waves;
}

// Which test files exist, which are quick, and in which order a run starts them: the one place test/run.mjs reads.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** The quick suites (`npm run test:quick`): pure code, no process started (no git, sshd, netns, iptables, kubectl,
 * chromium; test/no-spawn.mjs fails a quick file that starts one). Folders or files, by path from the repo root;
 * QUICK_EXCEPT takes files back out of a listed folder. */
export const QUICK = [
  "test/config/", "test/diff/", "test/dns/answer.test.ts", "test/dns/settings.test.ts", "test/health/", "test/mesh/",
  "test/model/", "test/pod-sync/", "test/property/", "test/render/", "test/report/", "test/runtimes/",
  "test/xds/strict.test.ts", "test/xds/strict-random.test.ts", "test/xds/budget.test.ts",
  "test/envoy-double/units.test.ts", "test/reconcile/",
];
export const QUICK_EXCEPT = [
  "test/config/sources.test.ts", // git
  "test/render/files.test.ts", // kubectl
  "test/report/cli-drift.test.ts", // the local transport's shell
  "test/report/html-chromium.test.ts", // chromium
  "test/report/mesh-graph-browser.test.ts", // chromium
];

/** The name of the file that imports the selected quick suites to run them in one process (test/run.mjs), as the
 * summary and DURATIONS_FILE name it. */
export const QUICK_BATCH = "quick-suites.test.mjs";

/** Seconds each file took in a whole run on a quiet 2-core machine (`node test/run.mjs --record-times` refreshes
 * it). A run starts the longest files first, so the last ones to end are short; files not listed count as
 * UNKNOWN_SECONDS. */
export const DURATIONS_FILE = "test/durations.json";
const UNKNOWN_SECONDS = 3;

/** Every test file (test/**\/*.test.ts), by path from `root`, in name order. */
export function allTestFiles(root) {
  const walk = (dir) => {
    const out = [];
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (name === "node_modules" || name === "fixtures") continue;
      if (statSync(path).isDirectory()) out.push(...walk(path));
      else if (name.endsWith(".test.ts")) out.push(relative(root, path));
    }
    return out;
  };
  return walk(join(root, "test"));
}

/** Whether a file (path from the repo root) is one of the quick suites. */
export function isQuick(file) {
  const listed = (list) => list.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p));
  return listed(QUICK) && !listed(QUICK_EXCEPT);
}

/** `files` longest first by `durations` (seconds by path); ties and unknown files keep their order. */
export function longestFirst(files, durations) {
  const secs = (f) => (typeof durations[f] === "number" ? durations[f] : UNKNOWN_SECONDS);
  return files.map((f, i) => ({ f, i, s: secs(f) })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.f);
}

/** The recorded durations (an empty map when the file is missing or unreadable: order is only a speed hint). */
export function readDurations(root) {
  const path = join(root, DURATIONS_FILE);
  try {
    return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  } catch {
    return {};
  }
}

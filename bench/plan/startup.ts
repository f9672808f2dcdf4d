// bench/plan/startup: whole-process time of amphi's commands from two checkouts, run alternately (A, B, A, B, …)
// so both see the same machine load; prints min and median of each and B/A. For start-up work (the CLI bundle,
// the dist/ freshness check) where one run's difference is smaller than the load's drift.
// Usage: node --import tsx bench/plan/startup.ts OLD_CHECKOUT [NEW_CHECKOUT=this one] [apps=100,1000] [runs=7]
// Each checkout must have a current dist/ (`npm run build`), else its bin/amphi.js runs tsx and the figures say
// nothing. The repos are bench/plan's `fleet` shape (issue 14's checker).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FLEET, generateRepo } from "./generate.js";

const here = new URL("../..", import.meta.url).pathname;
const [oldRoot, newRoot = here] = [process.argv[2], process.argv[3]].map((p) => (p ? resolve(p) : undefined));
if (!oldRoot) throw new Error("usage: bench/plan/startup.ts OLD_CHECKOUT [NEW_CHECKOUT] [apps=100,1000] [runs=7]");
const sizes = (process.argv[4] ?? "100,1000").split(",").map(Number);
const runs = Number(process.argv[5] ?? 7);

function once(args: string[], cwd: string, okCodes: number[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Runs `args(root)` from each checkout alternately, `runs` times each after one warm-up each. */
function compare(label: string, cwd: string, args: (root: string) => string[], okCodes = [0]): void {
  const t: Record<"a" | "b", number[]> = { a: [], b: [] };
  for (let i = 0; i <= runs; i++) {
    for (const side of ["a", "b"] as const) {
      const ms = once(args(side === "a" ? oldRoot! : newRoot!), cwd, okCodes);
      if (i > 0) t[side].push(ms);
    }
  }
  const stat = (xs: number[]): [number, number] => {
    const s = [...xs].sort((x, y) => x - y);
    return [s[0]!, s[Math.floor(s.length / 2)]!];
  };
  const [aMin, aMed] = stat(t.a);
  const [bMin, bMed] = stat(t.b);
  const f = (x: number): string => x.toFixed(0).padStart(5);
  console.log(`${label.padEnd(40)} A min ${f(aMin)} med ${f(aMed)} ms   B min ${f(bMin)} med ${f(bMed)} ms   B/A min ${(bMin / aMin).toFixed(3)}  (${f(aMin - bMin)} ms)`);
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`bench/plan/startup: node ${process.version}, ${runs} runs each, alternating\nA = ${oldRoot}\nB = ${newRoot}\nload average ${load()}`);
const scratch = mkdtempSync(join(tmpdir(), `amphi-bench-startup-${process.pid}-`));
try {
  compare("node -e 0", scratch, () => ["-e", "0"]);
  compare("amphi --version", scratch, (root) => [join(root, "bin/amphi.js"), "--version"]);
  for (const apps of sizes) {
    const dir = generateRepo(join(scratch, `repo-${apps}`), apps, 4, FLEET);
    const asActual = spawnSync(process.execPath, [join(newRoot!, "bin/amphi.js"), "render", "--env", "prod", "--as-actual"], { cwd: dir, maxBuffer: 1 << 30 });
    if (asActual.status !== 0) throw new Error(`render --as-actual exited ${asActual.status}: ${asActual.stderr}`);
    writeFileSync(join(dir, "actual.json"), asActual.stdout);
    compare(`amphi validate, ${apps} apps`, dir, (root) => [join(root, "bin/amphi.js"), "validate"]);
    compare(`amphi plan --actual (in sync), ${apps} apps`, dir, (root) => [join(root, "bin/amphi.js"), "plan", "--env", "prod", "--actual", "actual.json"]);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`load average ${load()}`);

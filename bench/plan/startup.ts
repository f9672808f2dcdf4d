// bench/plan/startup: whole-process time of amphi's commands from two checkouts, run alternately (A, B, A, B, …)
// so both see the same machine load; prints min and median wall time and CPU time (user + system, all threads:
// less sensitive to other processes than wall time) of each and B/A. For start-up work (the CLI bundle,
// the dist/ freshness check) where one run's difference is smaller than the load's drift.
// Usage: node --import tsx bench/plan/startup.ts OLD_CHECKOUT [NEW_CHECKOUT=this one] [apps=100,1000] [runs=7]
// Each checkout must have a current dist/ (`npm run build`), else its bin/amphi.js runs tsx and the figures say
// nothing. The repos are bench/plan's `fleet` shape (issue 14's checker).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FLEET, generateRepo } from "./generate.js";

const here = new URL("../..", import.meta.url).pathname;
const [oldRoot, newRoot = here] = [process.argv[2], process.argv[3]].map((p) => (p ? resolve(p) : undefined));
if (!oldRoot) throw new Error("usage: bench/plan/startup.ts OLD_CHECKOUT [NEW_CHECKOUT] [apps=100,1000] [runs=7]");
// A checkout whose dist/ is not current runs tsx: its figures would compare the wrong thing.
for (const root of [oldRoot, newRoot!]) {
  if (!existsSync(join(root, "scripts", "source-stamp.mjs"))) throw new Error(`${root}: not an amphi checkout (no scripts/source-stamp.mjs)`);
  const { sourceStamp } = (await import(join(root, "scripts", "source-stamp.mjs"))) as { sourceStamp: (dir: string) => string };
  let stamp = "";
  try {
    stamp = readFileSync(join(root, "dist", ".source-stamp"), "utf8");
  } catch {
    // no dist/ at all: said below
  }
  if (stamp !== sourceStamp(join(root, "src"))) throw new Error(`${root}: dist/ is missing or not built from its current src/ (run npm run build there)`);
}
const sizes = (process.argv[4] ?? "100,1000").split(",").map(Number);
const runs = Number(process.argv[5] ?? 7);

let probe = ""; // preloaded into each child: writes its CPU time (ms) to $AMPHI_BENCH_CPU_FILE at exit
let cpuFile = "";

function once(args: string[], cwd: string, okCodes: number[]): { wall: number; cpu: number } {
  rmSync(cpuFile, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--require", probe, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 28, env: { ...process.env, AMPHI_BENCH_CPU_FILE: cpuFile } });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: Number(readFileSync(cpuFile, "utf8")) };
}

/** Runs `args(root)` from each checkout alternately, `runs` times each after one warm-up each. */
function compare(label: string, cwd: string, args: (root: string) => string[], okCodes = [0]): void {
  const t = { a: { wall: [] as number[], cpu: [] as number[] }, b: { wall: [] as number[], cpu: [] as number[] } };
  for (let i = 0; i <= runs; i++) {
    for (const side of ["a", "b"] as const) {
      const { wall, cpu } = once(args(side === "a" ? oldRoot! : newRoot!), cwd, okCodes);
      if (i > 0) t[side].wall.push(wall), t[side].cpu.push(cpu);
    }
  }
  const stat = (xs: number[]): [number, number] => {
    const s = [...xs].sort((x, y) => x - y);
    return [s[0]!, s[Math.floor(s.length / 2)]!];
  };
  const f = (x: number): string => x.toFixed(0).padStart(5);
  const row = (what: "wall" | "cpu"): string => {
    const [aMin, aMed] = stat(t.a[what]);
    const [bMin, bMed] = stat(t.b[what]);
    return `${what.padEnd(4)} A min ${f(aMin)} med ${f(aMed)}  B min ${f(bMin)} med ${f(bMed)} ms  B/A min ${(bMin / aMin).toFixed(2)} med ${(bMed / aMed).toFixed(2)}`;
  };
  console.log(`${label.padEnd(40)} ${row("wall")}\n${"".padEnd(40)} ${row("cpu")}`);
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`bench/plan/startup: node ${process.version}, ${runs} runs each, alternating\nA = ${oldRoot}\nB = ${newRoot}\nload average ${load()}`);
const scratch = mkdtempSync(join(tmpdir(), `amphi-bench-startup-${process.pid}-`));
probe = join(scratch, "cpu-probe.cjs");
cpuFile = join(scratch, "cpu");
writeFileSync(probe, `const f = process.env.AMPHI_BENCH_CPU_FILE;
if (f) process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeFileSync(f, String((u.user + u.system) / 1000)); });
`);
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

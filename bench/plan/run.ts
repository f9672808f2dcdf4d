// bench/plan: whole-process time and peak RSS of `amphi plan` on generated repos of N apps × 2 environments.
// Usage: npm run bench -- [apps=100,1000,10000] [runs=5] [shape=bench|fleet]. Prints one line per scenario and
// size: min / median / max ms and the largest peak RSS of those runs. 10,000 apps get at most 3 runs (each takes
// seconds). `fleet` is the shape issue 14's checker describes (one environment, no Consul); `bench` has two and Consul.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH, FLEET, generateRepo } from "./generate.js";

const sizes = (process.argv[2] ?? "100,1000,10000").split(",").map(Number);
const runsArg = Number(process.argv[3] ?? 5);
const shapeArg = process.argv[4] ?? "bench";
if (shapeArg !== "bench" && shapeArg !== "fleet") throw new Error(`shape must be bench or fleet, not ${shapeArg}`);
const shape = shapeArg === "fleet" ? FLEET : BENCH;
const root = new URL("../..", import.meta.url).pathname;
const bin = join(root, "bin/amphi.js");
// Preloaded into each child: writes its own peak RSS (KiB, getrusage ru_maxrss) to a file when it exits.
const probe = join(root, "bench/plan/rss-probe.cjs");

/** Runs one command `runs` times after a warm-up run (tsx's transform cache, the page cache). */
function time(label: string, dir: string, runs: number, args: string[], okCodes = [0, 2]): void {
  const ms: number[] = [];
  const rssFile = join(dir, `rss-${process.pid}`);
  let rss = 0;
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const env = { ...process.env, AMPHI_BENCH_RSS_FILE: rssFile };
    rmSync(rssFile, { force: true }); // a child that never reached its exit hook must not report the run before
    const r = spawnSync(process.execPath, ["--require", probe, ...args], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 1 << 28 });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!okCodes.includes(r.status ?? -1)) throw new Error(`${label} exited ${r.status}: ${r.stderr}`);
    if (i === 0) continue;
    ms.push(t);
    if (!existsSync(rssFile)) throw new Error(`${label}: the child wrote no peak RSS to ${rssFile}`);
    rss = Math.max(rss, Number(readFileSync(rssFile, "utf8")));
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)]!;
  const f = (x: number) => x.toFixed(0).padStart(6);
  console.log(`${label.padEnd(52)} min ${f(ms[0]!)} ms  median ${f(med)} ms  max ${f(ms[ms.length - 1]!)} ms  peak RSS ${f(rss / 1024)} MiB`);
}

function bench(apps: number): void {
  const runs = apps >= 10000 ? Math.min(runsArg, 3) : runsArg;
  const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-bench-plan-${process.pid}-`)), apps, 4, shape);
  try {
    const envs = `${shape.envs.length} environment${shape.envs.length === 1 ? "" : "s"}${shape.consul ? ", Consul" : ""}`;
    console.log(`\n${apps} apps × ${envs} (cluster + 4 hosts each), ${runs} runs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    time("amphi validate", dir, runs, [bin, "validate"], [0]);
    // Always --actual: without it plan would read live state from the generated (unreachable) hosts.
    const empty = join(dir, "empty-actual.yaml");
    writeFileSync(empty, "resources: []\n");
    time("amphi plan --env prod (empty actual)", dir, runs, [bin, "plan", "--env", "prod", "--actual", empty, "--format", "json"]);
    // The in-sync state as `render --as-actual` writes it (what the README tells people to start from).
    const actual = join(dir, "actual.json");
    const asActual = spawnSync(process.execPath, [bin, "render", "--env", "prod", "--as-actual"], { cwd: dir, maxBuffer: 1 << 30 });
    if (asActual.status !== 0) throw new Error(`render --as-actual exited ${asActual.status}: ${asActual.stderr}`);
    writeFileSync(actual, asActual.stdout);
    const mb = (asActual.stdout.length / 1e6).toFixed(1);
    time(`amphi plan --env prod --actual (${mb} MB, in sync)`, dir, runs, [bin, "plan", "--env", "prod", "--actual", actual], [0]);
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
    execFileSync("git", ["add", "apps", "environments"], { cwd: dir });
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "bench"], { cwd: dir });
    time("amphi plan --env prod --rev HEAD", dir, runs, [bin, "plan", "--env", "prod", "--rev", "HEAD", "--actual", empty, "--format", "json"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`bench/plan: node ${process.version}, ${cpus().length} cores`);
const scratch = mkdtempSync(join(tmpdir(), `amphi-bench-plan-${process.pid}-`));
try {
  time("node -e 0 (process start, for scale)", scratch, runsArg, ["-e", "0"], [0]);
  time("amphi --version (loader + CLI start)", scratch, runsArg, [bin, "--version"], [0]);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
for (const apps of sizes) bench(apps);

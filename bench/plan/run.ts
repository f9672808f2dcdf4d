// bench/plan: whole-process time of `amphi plan` on a generated repo of N apps × 2 environments.
// Usage: npm run bench -- [apps=1000] [runs=7]. Prints one line per scenario: min / median / max ms.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateRepo } from "./generate.js";

const apps = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 7);
const root = new URL("../..", import.meta.url).pathname;
const bin = join(root, "bin/amphi.js");
const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-bench-plan-${process.pid}-`)), apps);

function time(label: string, args: string[], okCodes = [0, 2]): void {
  const ms: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!okCodes.includes(r.status ?? -1)) throw new Error(`${label} exited ${r.status}: ${r.stderr}`);
    if (i > 0) ms.push(t); // the first run warms tsx's transform cache and the page cache
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)]!;
  console.log(`${label.padEnd(44)} min ${ms[0]!.toFixed(0).padStart(5)} ms  median ${med.toFixed(0).padStart(5)} ms  max ${ms[ms.length - 1]!.toFixed(0).padStart(5)} ms`);
}

try {
  console.log(`bench/plan: ${apps} apps × 2 environments (cluster + 4 hosts each), ${runs} runs, node ${process.version}`);
  time("node -e 0 (process start, for scale)", ["-e", "0"], [0]);
  time("amphi --version (loader + CLI start)", [bin, "--version"], [0]);
  time("amphi validate", [bin, "validate"], [0]);
  // Always --actual: without it plan would read live state from the generated (unreachable) hosts.
  const empty = join(dir, "empty-actual.yaml");
  writeFileSync(empty, "resources: []\n");
  time("amphi plan --env prod (empty actual)", [bin, "plan", "--env", "prod", "--actual", empty, "--format", "json"]);
  const actual = join(dir, "actual.json");
  const asActual = spawnSync(process.execPath, [bin, "render", "--env", "prod", "--as-actual"], { cwd: dir, maxBuffer: 1 << 30 });
  if (asActual.status === 0) {
    writeFileSync(actual, asActual.stdout);
    time("amphi plan --env prod --actual (no changes)", [bin, "plan", "--env", "prod", "--actual", actual], [0]);
  }
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
  execFileSync("git", ["add", "apps", "environments"], { cwd: dir });
  execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "bench"], { cwd: dir });
  time("amphi plan --env prod --rev HEAD", [bin, "plan", "--env", "prod", "--rev", "HEAD", "--actual", empty, "--format", "json"]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

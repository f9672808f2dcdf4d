// bench/kube: plan + apply of N apps (default 200) on one cluster through the real kubectl, against the
// kube-apiserver double running in a process of its own. Each scenario is a whole `node` process
// (pipeline.ts): its wall time, the kubectl invocations it made (per stage) and its stage times.
// Usage: node --import tsx bench/kube/run.ts [apps=200] [runs=5]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { generateRepo } from "../plan/generate.js";

const apps = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 5);
const here = import.meta.dirname;
const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-bench-kube-${process.pid}-`)), apps);
const namespace = `bench-${process.pid}`;

interface Result {
  objects: number;
  steps: number;
  waves: number;
  tasks: number;
  invocations: number;
  calls: Record<string, number>;
  ms: Record<string, number>;
  wallMs: number;
}

const double = spawn(process.execPath, ["--import", "tsx", join(here, "double.ts")], { stdio: ["pipe", "pipe", "inherit"] });
const ready = await new Promise<{ kubeconfig: string; context: string; cacheDir: string }>((resolve, reject) => {
  createInterface({ input: double.stdout }).once("line", (line) => resolve(JSON.parse(line)));
  double.once("exit", (code) => reject(new Error(`the double exited ${code}`)));
});
const env = { ...process.env, AMPHI_BENCH_KUBECONFIG: ready.kubeconfig, AMPHI_BENCH_CONTEXT: ready.context, AMPHI_BENCH_CACHEDIR: ready.cacheDir };

function pipeline(args: string[]): Result {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "pipeline.ts"), dir, namespace, ...args], { env, encoding: "utf8", maxBuffer: 1 << 26 });
  const wallMs = Math.round(performance.now() - t0);
  if (r.status !== 0) throw new Error(`pipeline ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Omit<Result, "wallMs">), wallMs };
}

function report(label: string, results: Result[]): void {
  const sorted = [...results].sort((a, b) => a.wallMs - b.wallMs);
  const med = sorted[Math.floor(sorted.length / 2)]!;
  const calls = Object.entries(med.calls).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(", ") || "none";
  const stages = Object.entries(med.ms).map(([s, t]) => `${s} ${t}`).join(" / ");
  console.log(`${label.padEnd(34)} wall median ${String(med.wallMs).padStart(5)} ms (min ${sorted[0]!.wallMs}, max ${sorted.at(-1)!.wallMs})  ` +
    `steps ${med.steps}, waves ${med.waves}, tasks ${med.tasks}, kubectl ${med.invocations} (${calls})  stages ms: ${stages}`);
}

try {
  const kubectlVersion = spawnSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8" });
  const client = kubectlVersion.status === 0 ? (JSON.parse(kubectlVersion.stdout).clientVersion?.gitVersion as string) : "?";
  console.log(`bench/kube: ${apps} apps on one cluster (ConfigMap + Service + Deployment each), kubectl ${client}, node ${process.version}, ${runs} runs per repeatable scenario`);
  const warm = pipeline([]); // warms tsx's transform cache and kubectl's discovery cache; plans creates only
  report("plan, empty cluster (first run)", [warm]);
  report("plan + apply, empty cluster", [pipeline(["--apply"])]);
  report("plan, no changes", Array.from({ length: runs }, () => pipeline([])));
  report("plan + apply, no changes", Array.from({ length: runs }, () => pipeline(["--apply"])));
  // An even number of flips, so the last one puts the original image back before the prune scenario.
  const flip = Array.from({ length: runs + (runs % 2) }, (_, i) => pipeline(["--apply", "--image", `app-0100=${i % 2 === 0 ? "2.0.0" : "1.0.100"}`]));
  report("plan + apply, one image changed", flip);
  report(`plan + apply, prune ${Math.floor(apps / 10)} apps`, [pipeline(["--apply", "--drop", String(Math.floor(apps / 10))])]);
  report(`plan + apply, re-create them`, [pipeline(["--apply"])]);
} finally {
  double.stdin.end();
  rmSync(dir, { recursive: true, force: true });
}

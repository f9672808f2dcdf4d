// Consul health change → commit status, through `amphi serve`'s health watch: the example's `local`
// environment with Consul (the test double, test/support/consul — not Consul) and statuses to a recording
// GitHub API on loopback. After the first cycle, N check flips of billing's TTL check (fail, pass, …); each
// is timed from the `PUT /v1/agent/check/fail|pass` answer to the recording server receiving billing's new
// state. Prints per-flip times and p50/p90. Usage:
//   node --import tsx bench/loop/consul-status.ts [flips=20]
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { startConsulDouble } from "../../test/support/consul/index.js";
import { loopRepo } from "../../test/loop/support.js";

const N = Number(process.argv[2] ?? 20);
const CONTEXT = "amphi/local/billing";
const posted: { context: string; state: string; at: number }[] = [];
const forge = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString("utf8")));
  req.on("end", () => {
    const s = JSON.parse(body || "{}") as { context: string; state: string };
    posted.push({ context: s.context, state: s.state, at: performance.now() });
    res.writeHead(201, { "Content-Type": "application/json" }).end("{}");
  });
});
await new Promise<void>((r) => forge.listen(0, "127.0.0.1", r));
const forgeUrl = `http://127.0.0.1:${(forge.address() as AddressInfo).port}`;
const consul = await startConsulDouble();
const repo = await loopRepo("amphi-bench-consul-status");
const file = join(repo.dir, "environments/local.yaml");
writeFileSync(file, readFileSync(file, "utf8")
  .replace("  hostGroups:\n", `  consul:\n    address: ${consul.url}\n    checkTTL: 10m\n    deregisterCriticalAfter: 30m\n  hostGroups:\n`)
  .replace("    provider: gitnotes\n", `    provider: github\n    url: ${forgeUrl}\n    repository: o/config\n    tokenEnv: AMPHI_BENCH_GH_TOKEN\n`));
await repo.commit("local: Consul and GitHub statuses");

let log = "";
const ac = new AbortController();
const served = run(["serve", "--repo", repo.dir, "--env", "local", "--listen", "127.0.0.1:0", "--interval", "1h"],
  { out: () => {}, err: (t: string) => void (log += t), cwd: repo.dir, env: { ...process.env, AMPHI_BENCH_GH_TOKEN: "t0ken" } }, ac.signal);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => T | undefined, what: string, ms = 60_000): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (performance.now() - t0 > ms) throw new Error(`timed out: ${what}\n${log}`);
    await sleep(1);
  }
}
async function flip(verb: "pass" | "fail", id: string): Promise<number> {
  const res = await fetch(`${consul.url}/v1/agent/check/${verb}/${encodeURIComponent(`service:${id}`)}`, { method: "PUT" });
  if (res.status !== 200) throw new Error(`${verb} ${id}: ${res.status} ${await res.text()}`);
  return performance.now();
}
const lastState = () => posted.filter((p) => p.context === CONTEXT).at(-1)?.state;

try {
  await until(() => (/local applied \(start\)/.test(log) ? true : undefined), "the first apply");
  await until(() => (/watching Consul health at/.test(log) ? true : undefined), "the health watch");
  const ids = consul.state().services.filter((s) => s.Meta["amphi-app"]).map((s) => ({ id: s.ID, app: s.Meta["amphi-app"]! }));
  for (const s of ids) await flip("pass", s.id);
  await until(() => (lastState() === "success" ? true : undefined), "billing success");
  const billing = ids.find((s) => s.app === "billing")!.id;
  const times: number[] = [];
  for (let i = 1; i <= N; i++) {
    const verb = i % 2 === 1 ? "fail" : "pass";
    const want = verb === "fail" ? "failure" : "success";
    const from = posted.length;
    const t0 = await flip(verb, billing);
    const hit = await until(() => posted.slice(from).find((p) => p.context === CONTEXT && p.state === want), `flip ${i} → ${want}`, 10_000);
    times.push(hit.at - t0);
    console.log(`flip ${String(i).padStart(2)}  ${verb} → ${want.padEnd(7)} posted in ${(hit.at - t0).toFixed(1).padStart(6)} ms`);
    await sleep(100);
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  console.log(`\nConsul check change → commit status (health watch, debounce 50 ms), ${N} flips: p50 ${q(times, 0.5).toFixed(0)} ms, p90 ${q(times, 0.9).toFixed(0)} ms, min ${Math.min(...times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (target p50 < 1000 ms)`);
} finally {
  ac.abort();
  await served;
  await repo.cleanup();
  await consul.close();
  forge.close();
}

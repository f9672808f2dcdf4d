// bench/dns: dnsperf against `amphi dns` and against dnsmasq, same 1000 names, same machine, one run.
// For amphi the names are services registered in the Consul HTTP API test double (test/support/consul);
// for dnsmasq the same names come from a hosts file (--addn-hosts); a third server, naive-dns2.ts (dns2 parsing
// and writing every packet), is the baseline the pre-encoded path is measured against. All answer from memory.
// Usage: node --import tsx bench/dns/run.ts [seconds=10] [rounds=3] [names=1000] [--pinned] [--no-dns2] [--echo] [--dgram] [--cpu-rate=N] [--node-flags="…"]
// amphi runs with batched UDP I/O (native/udp-batch, built here when missing); --dgram adds a second amphi on node:dgram.
// --pinned: each server with all its threads on core 1 (`taskset -a -p`), dnsperf on core 0: the per-core
// comparison (Node's GC and platform threads then share the server's core, as dnsmasq has nothing to share).
// After a 2 s warm-up of each, `rounds` rounds, each alternating the two servers (so background load hits
// both alike): the highest rate (dnsperf unthrottled, 200 queries outstanding, `seconds` long), then latency
// at a fixed 5000 queries/s (`-Q 5000 -l seconds -v`: every query's latency → p50/p99), then the server's
// CPU time per query at a fixed 40000 queries/s (10000 for dns2, which cannot keep up with 40000) (user + system time from /proc/<pid>/stat over the run:
// unlike the rates, this hardly moves when other processes load the machine). Prints every run, then the
// median and range over the rounds.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startConsulDouble } from "../../test/support/consul/index.js";
import { register } from "../../test/dns/consul.js";
import { startDnsmasq, stopChild } from "../../test/dns/tools.js";
// @ts-expect-error -- a plain .mjs helper without types
import { sourceStamp } from "../../scripts/source-stamp.mjs";

const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const seconds = Number(positional[0] ?? 10);
const rounds = Number(positional[1] ?? 3);
const count = Number(positional[2] ?? 1000);
/** --pinned: every server on core SERVER_CPU (all its threads), dnsperf on core CLIENT_CPU. */
const pinned = flags.includes("--pinned");
const SERVER_CPU = 1;
const CLIENT_CPU = 0;
/** --no-dns2: skip the naive dns2 server (it adds a third of the run time and is not the target). */
const withDns2 = !flags.includes("--no-dns2");
/** --echo: add node-echo.ts, a node:dgram responder that does no DNS work (the ceiling of any Node server). */
/** --cpu-rate=N: the fixed rate of the CPU-per-query run (default 40000; on a loaded machine the servers
 * may not keep up with it, and CPU per query is then measured at whatever they answered). */
const cpuRate = Number(flags.find((f) => f.startsWith("--cpu-rate="))?.slice("--cpu-rate=".length) ?? 40_000);
const withEcho = flags.includes("--echo");
/** --dgram: add a second amphi dns with AMPHI_DNS_IO=dgram (node:dgram UDP, the path before batched I/O). */
const withDgram = flags.includes("--dgram");
/** --node-flags="…": extra node flags for amphi (to measure V8/libuv settings); AMPHI_DNS_NODE_FLAGS too. */
const nodeFlags = (flags.find((f) => f.startsWith("--node-flags="))?.slice("--node-flags=".length) ?? process.env.AMPHI_DNS_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const root = new URL("../..", import.meta.url).pathname;
const MESH_IP = "10.255.0.1";

interface Run { qps: number; lost: number; completed: number; p50: number; p99: number; max: number }
interface Cpu { user: number; sys: number; total: number }

/** Runs dnsperf and returns its stdout. */
function dnsperf(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = pinned ? spawn("taskset", ["-c", String(CLIENT_CPU), "dnsperf", ...args], { stdio: ["ignore", "pipe", "pipe"] }) : spawn("dnsperf", args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", () => {});
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`dnsperf exited ${code}`))));
  });
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`dnsperf output has no ${re}:\n${text.slice(-2000)}`);
  return Number(m[1]);
}

/** One dnsperf run; `qps` null = unthrottled. Latencies (ms) from `-v` per-query lines when throttled. */
async function perf(port: number, file: string, l: number, qps: number | null): Promise<Run> {
  const args = ["-s", "127.0.0.1", "-p", String(port), "-d", file, "-l", String(l), "-t", "2", ...(qps === null ? ["-q", "200"] : ["-Q", String(qps), "-v"])];
  const out = await dnsperf(args);
  const lat = [...out.matchAll(/^> \w+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { qps: num(out, /Queries per second:\s+([\d.]+)/), lost: num(out, /Queries lost:\s+(\d+)/), completed: num(out, /Queries completed:\s+(\d+)/), p50: pct(50), p99: pct(99), max: lat.at(-1) ?? NaN };
}

/** Pins every thread of `pid` (and the threads it starts later) to core SERVER_CPU, in pinned mode. */
function pin(pid: number): void {
  if (pinned) execFileSync("taskset", ["-a", "-c", "-p", String(SERVER_CPU), String(pid)], { stdio: "ignore" });
}

/** utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat, after the name). */
function cpuTicks(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return [Number(fields[11]), Number(fields[12])];
}

/** CPU µs per answered query of process `pid` while dnsperf sends `qps` queries/s for `l` seconds. */
async function cpuPerQuery(pid: number, port: number, file: string, l: number, qps: number): Promise<Cpu> {
  const [u0, s0] = cpuTicks(pid);
  const run = await perf(port, file, l, qps);
  const [u1, s1] = cpuTicks(pid);
  const us = (ticks: number): number => (ticks * 10_000) / run.completed; // 100 ticks/s (USER_HZ)
  return { user: us(u1 - u0), sys: us(s1 - s0), total: us(u1 - u0 + s1 - s0) };
}

/** Starts a helper server of bench/dns (naive-dns2.ts, node-echo.ts) that prints `listening <port>`. */
async function startHelper(script: string, args: string[]): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "bench/dns", script), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited ${code}`)));
  });
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

/** Starts `amphi dns` as its own process (as it runs in production) and returns its port and a stopper.
 * `io`: AMPHI_DNS_IO; with `batch` it fails when the addon does not load. */
async function startAmphi(catalogUrl: string, io: "batch" | "dgram"): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeFlags, join(root, "bin/amphi.js"), "dns", "--env", "staging", "--repo", join(root, "examples/config"), "--port", "0", "--consul", catalogUrl], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, AMPHI_DNS_IO: io },
  });
  let err = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+).*zone (\d+) services/.exec(err);
      if (m && Number(m[2]) === count) resolve(Number(m[1]));
      else if (m) reject(new Error(`amphi dns started with ${m[2]} services, not ${count}`));
    });
    child.once("exit", (code) => reject(new Error(`amphi dns exited ${code}: ${err}`)));
  });
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], digits: number): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(" ");

const dir = mkdtempSync(join(tmpdir(), `amphi-bench-dns-${process.pid}-`));
const names = Array.from({ length: count }, (_, i) => `svc-${String(i + 1).padStart(4, "0")}`);
const queries = join(dir, "queries.txt");
writeFileSync(queries, names.map((n) => `${n}.mesh A\n`).join(""));
const hosts = join(dir, "hosts");
writeFileSync(hosts, names.map((n) => `${MESH_IP} ${n}.mesh ${n}\n`).join(""));

const catalog = await startConsulDouble();
for (const n of names) await register(catalog.url, n);
const dnsmasq = await startDnsmasq([`--addn-hosts=${hosts}`]);
// The addon, as `npm run prebench` builds it (a no-op when it is current).
execFileSync(process.execPath, [join(root, "scripts/build-native.mjs")], { stdio: "inherit" });
const amphi = await startAmphi(catalog.url, "batch");
const amphiDgram = withDgram ? await startAmphi(catalog.url, "dgram") : null;
const naive = withDns2 ? await startHelper("naive-dns2.ts", [queries]) : null;
const echo = withEcho ? await startHelper("node-echo.ts", []) : null;
const server = (label: string, s: { port: number; pid: number }) => ({ label, port: s.port, pid: s.pid, max: [] as Run[], lat: [] as Run[], cpu: [] as Cpu[] });
const servers = [server("dnsmasq", dnsmasq), server("amphi", amphi), ...(amphiDgram ? [server("a-dgram", amphiDgram)] : []), ...(naive ? [server("dns2", naive)] : []), ...(echo ? [server("echo", echo)] : [])];
for (const s of servers) pin(s.pid);
try {
  const stampFile = join(root, "dist/.source-stamp");
  const compiled = existsSync(stampFile) && readFileSync(stampFile, "utf8") === (sourceStamp as (d: string) => string)(join(root, "src"));
  console.log(`bench/dns: ${count} names, ${rounds} rounds × ${seconds} s, ${pinned ? `pinned (servers on core ${SERVER_CPU}, dnsperf on core ${CLIENT_CPU})` : "unpinned"}, node ${process.version}${nodeFlags.length ? ` ${nodeFlags.join(" ")}` : ""}, amphi ${compiled ? "compiled (dist/)" : "from src/ through tsx (npm run prebench builds dist/)"} with batched UDP I/O${withDgram ? " (a-dgram: AMPHI_DNS_IO=dgram)" : ""}, load average ${load()}`);
  for (const s of servers) await perf(s.port, queries, 2, null);
  for (let r = 1; r <= rounds; r++) {
    for (const s of servers) {
      const max = await perf(s.port, queries, seconds, null);
      const lat = await perf(s.port, queries, seconds, 5000);
      const cpu = await cpuPerQuery(s.pid, s.port, queries, Math.min(seconds, 5), s.label === "dns2" ? 10_000 : cpuRate);
      s.max.push(max);
      s.lat.push(lat);
      s.cpu.push(cpu);
      console.log(
        `round ${r} ${s.label.padEnd(8)} max ${max.qps.toFixed(0).padStart(7)} q/s (lost ${max.lost})   at 5k q/s: p50 ${lat.p50.toFixed(3)} ms  p99 ${lat.p99.toFixed(3)} ms  max ${lat.max.toFixed(2)} ms (lost ${lat.lost})   ` +
          `CPU/query ${cpu.total.toFixed(2)} µs (user ${cpu.user.toFixed(2)}, sys ${cpu.sys.toFixed(2)})   load ${load()}`,
      );
    }
  }
  for (const s of servers) {
    const q = s.max.map((m) => m.qps);
    const p99 = s.lat.map((m) => m.p99);
    const cpu = s.cpu.map((c) => c.total);
    console.log(
      `${s.label.padEnd(8)} max q/s median ${median(q).toFixed(0)} (${range(q, 0)})   p99 at 5k q/s median ${median(p99).toFixed(3)} ms (${range(p99, 3)})   ` +
        `p50 ${median(s.lat.map((m) => m.p50)).toFixed(3)} ms   CPU/query median ${median(cpu).toFixed(2)} µs (${range(cpu, 2)})`,
    );
  }
  const ratios = servers[1]!.max.map((m, i) => m.qps / servers[0]!.max[i]!.qps);
  const cpuRatio = median(servers[0]!.cpu.map((c) => c.total)) / median(servers[1]!.cpu.map((c) => c.total));
  const vs = (label: string): void => {
    const s = servers.find((x) => x.label === label);
    if (!s) return;
    const ratio = median(s.max.map((m, i) => m.qps / servers[0]!.max[i]!.qps));
    const cpu = median(s.cpu.map((c) => c.total));
    console.log(`${label}/dnsmasq max q/s median ${ratio.toFixed(2)}; amphi/${label} ${(median(servers[1]!.max.map((m) => m.qps)) / median(s.max.map((m) => m.qps))).toFixed(2)}×; CPU per query ${label} ${cpu.toFixed(2)} µs`);
  };
  vs("a-dgram");
  vs("dns2");
  vs("echo");
  console.log(
    `ratio amphi/dnsmasq max q/s per round ${ratios.map((x) => x.toFixed(2)).join(" ")}, median ${median(ratios).toFixed(2)} (target ≥ ${pinned ? "0.9, pinned" : "0.70, unpinned"}); ` +
      `dnsmasq/amphi CPU per query ${cpuRatio.toFixed(2)} (the rate ratio on a CPU-bound machine); amphi p99 median ${median(servers[1]!.lat.map((m) => m.p99)).toFixed(3)} ms (target < 1 ms)`,
  );
} finally {
  await naive?.stop();
  await echo?.stop();
  await amphi.stop();
  await amphiDgram?.stop();
  await dnsmasq.stop();
  await catalog.close();
  rmSync(dir, { recursive: true, force: true });
}

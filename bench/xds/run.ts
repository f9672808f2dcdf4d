// The control plane at scale: one `amphi xds` process (the real command, fed by one blocking Consul watch per
// service against the Consul double, test/support/consul — not Consul) serving S services with 2 instances each
// to N simulated sidecars (bench/xds/sidecars.ts, another process: wildcard LDS/CDS, EDS by name, ACKing).
// Each round flips one instance's TTL check in Consul (fail, pass, …) and times, per stream, from the Consul
// write to the stream's ACK of the EDS response carrying the change; sampled streams check that the changed
// cluster has the endpoint count Consul now has. Prints per-round and overall p50/p99/max, the server process's
// CPU seconds (during the rounds and in all) and peak RSS. Usage:
//   node --import tsx bench/xds/run.ts [--services 1000] [--streams 2000] [--rounds 10] [--cpu-prof DIR]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { ConsulClient, failCheck, passCheck, register } from "../../src/adapters/consul/index.js";
import { clusterName } from "../../src/mesh/index.js";
import { startConsulDouble } from "../../test/support/consul/index.js";
import { registrationFixture } from "../../test/consul/helpers.js";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const SERVICES = Number(arg("services", "1000"));
const STREAMS = Number(arg("streams", "2000"));
const ROUNDS = Number(arg("rounds", "10"));
const CPU_PROF = arg("cpu-prof", "");
const ENV = "bench";
const root = fileURLToPath(new URL("../..", import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const port = (i: number) => 9000 + (i % 10);
const svc = (i: number) => `svc-${String(i).padStart(4, "0")}`;

// The config repo: S apps of one grpc service each, placed on one cluster (amphi xds reads no cluster).
const repo = mkdtempSync(join(tmpdir(), "amphi-bench-xds-"));
const consul = await startConsulDouble();
mkdirSync(join(repo, "environments"));
const placements: string[] = [];
for (let i = 0; i < SERVICES; i++) {
  mkdirSync(join(repo, "apps", svc(i)), { recursive: true });
  writeFileSync(join(repo, "apps", svc(i), "spec.yaml"), `apiVersion: v1\nkind: Application\nspec:\n  services:\n  - name: ${svc(i)}\n    ports:\n    - targetPort: ${port(i)}\n      protocol: grpc\n  container:\n    image: registry.example.com/bench/${svc(i)}:1.0.0\n`);
  placements.push(`  - app: ${svc(i)}\n    cluster: dev\n`);
}
writeFileSync(join(repo, "environments", `${ENV}.yaml`), `apiVersion: v1\nkind: Environment\nspec:\n  mesh:\n    serviceIP: 10.255.0.1\n    capture: false\n    sidecar:\n      image: envoyproxy/envoy:v1.31.2\n  consul:\n    address: ${consul.url}\n  clusters:\n  - name: dev\n    context: kind-dev\n    namespace: bench\n  placements:\n${placements.join("")}`);

// The registry: 2 passing instances per service.
const client = new ConsulClient({ address: consul.url, token: null, datacenter: null });
const checkOf = (i: number, host: string) => `service:${svc(i)}-${host}-${port(i)}`;
for (let i = 0; i < SERVICES; i++) {
  for (const [h, host] of ["vm-1", "vm-2"].entries()) {
    const check = { checkId: checkOf(i, host), ttl: "1h", deregisterCriticalServiceAfter: "2h", notes: "bench" };
    const reg = registrationFixture({ service: svc(i), host, address: `10.${(i >> 8) & 255}.${i & 255}.${h + 1}`, port: port(i), env: ENV, check });
    await register(client, reg);
    await passCheck(client, check.checkId, "bench");
  }
}

/** A child process talking one JSON line per command. */
function child(cmd: string[], onErr: (t: string) => void): { proc: ChildProcess; send: (c: object) => Promise<any> } {
  const proc = spawn(process.execPath, cmd, { stdio: ["pipe", "pipe", "pipe"], cwd: root, env: { ...process.env, AMPHI_TSX: "1" } });
  proc.stderr!.on("data", (d) => onErr(String(d)));
  const pending = new Map<number, (v: any) => void>();
  let id = 0;
  readline.createInterface({ input: proc.stdout! }).on("line", (l) => {
    const m = JSON.parse(l);
    pending.get(m.id)?.(m);
  });
  return { proc, send: (c) => new Promise((r) => (pending.set(++id, r), proc.stdin!.write(JSON.stringify({ id, ...c }) + "\n"))) };
}

let serverLog = "";
const server = spawn(process.execPath, [...(CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF}`] : []), "bin/amphi.js", "xds", "--repo", repo, "--env", ENV, "--listen", "127.0.0.1:0"], {
  cwd: root,
  stdio: ["ignore", "ignore", "pipe"],
  env: process.env, // bin/amphi.js runs the compiled dist/ when it is fresh (npm run build), else the sources
});
server.stderr!.on("data", (d) => (serverLog += String(d)));
const t = now();
while (!/serving bench: registry read/.test(serverLog)) {
  if (server.exitCode !== null) throw new Error(`amphi xds exited: ${serverLog}`);
  await new Promise((r) => setTimeout(r, 50));
}
const adsPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(serverLog)![1]);
console.log(`amphi xds: ${SERVICES} services, ${SERVICES * 2} instances read from Consul, serving in ${((now() - t) / 1000).toFixed(1)} s; RSS ${usage().rssMb.toFixed(0)} MB`);

/** utime+stime (s) and peak RSS (MB) of the server process. */
function usage(): { cpu: number; peakMb: number; rssMb: number } {
  const stat = readFileSync(`/proc/${server.pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, peakMb: kb("VmHWM") / 1024, rssMb: kb("VmRSS") / 1024 };
}

const clusters = Array.from({ length: SERVICES }, (_, i) => ({ cluster: clusterName(svc(i), port(i)), app: svc(i) }));
const sidecars = child(["--import", "tsx", "bench/xds/sidecars.ts", String(adsPort), String(STREAMS), ENV, JSON.stringify(clusters)], (e) => process.stderr.write(e));
const t1 = now();
await sidecars.send({ op: "ready" });
const afterSync = usage();
console.log(`${STREAMS} sidecar streams subscribed and ACKed (LDS, CDS, EDS of ${SERVICES} clusters) in ${((now() - t1) / 1000).toFixed(1)} s; server CPU so far ${afterSync.cpu.toFixed(1)} s, RSS ${afterSync.rssMb.toFixed(0)} MB`);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const all: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const i = (Math.floor(r / 2) * 37) % SERVICES; // fail an instance, then pass it again
  const fail = r % 2 === 0;
  await sidecars.send({ op: "arm", cluster: clusterName(svc(i), port(i)), expect: fail ? 1 : 2 });
  const t0 = now();
  await (fail ? failCheck(client, checkOf(i, "vm-2"), "bench: down") : passCheck(client, checkOf(i, "vm-2"), "bench: up"));
  const res = await sidecars.send({ op: "collect", t0, timeoutMs: 30_000 });
  all.push(...res.ms);
  console.log(`round ${r + 1}: ${fail ? "fail" : "pass"} ${svc(i)}/vm-2 → ACKed by ${res.ms.length}/${STREAMS} (missing ${res.missing}): p50 ${pct(res.ms, 50).toFixed(0)} ms, p99 ${pct(res.ms, 99).toFixed(0)} ms, max ${Math.max(...res.ms).toFixed(0)} ms; sampled ${res.checked} streams, ${res.wrong} wrong endpoints`);
  await new Promise((res) => setTimeout(res, 200));
}
const end = usage();
console.log(`\nall ${ROUNDS} rounds × ${STREAMS} streams: p50 ${pct(all, 50).toFixed(0)} ms, p99 ${pct(all, 99).toFixed(0)} ms, max ${Math.max(...all).toFixed(0)} ms`);
console.log(`amphi xds process: CPU ${(end.cpu - afterSync.cpu).toFixed(2)} s during the rounds, ${end.cpu.toFixed(1)} s in all (start, ${STREAMS} subscriptions, rounds); peak RSS ${end.peakMb.toFixed(0)} MB (RSS now ${end.rssMb.toFixed(0)} MB)`);

sidecars.proc.stdin!.end();
server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
await consul.close();
rmSync(repo, { recursive: true, force: true });

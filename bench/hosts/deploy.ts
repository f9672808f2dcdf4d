// bench/hosts/deploy: deploy latency on netns sshd hosts through amphi's apply pipeline (live plan over SSH,
// tasks, health gate): a first deploy, a version change (a new package) and a no-op re-apply, at each fleet
// size given. Prints the wall time of each (plan + apply) and, for the first host, every remote command it ran
// with its start offset and duration, so the time between commands (amphi's own) shows too. Where cgroup v1's
// cpuacct is mounted, also the CPU time of every process of the phase (amphi, the hosts' sshd, host scripts, the
// apps): on a shared machine wall time follows the load, CPU time much less.
// Needs root (network namespaces).
// Usage: node --import tsx bench/hosts/deploy.ts [sizes=5,20] [maxUnavailable=all] [rounds=1]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/config/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import { hostRefs } from "../../src/adapters/hosts.js";
import { PackageResolver } from "../../src/adapters/packages/resolver.js";
import { MemoryStateStore } from "../../test/fakes/handlers.js";
import { HostTaskHandler } from "../../src/hosts/handler.js";
import { undeploy } from "../../src/hosts/tasks.js";
import { readActual } from "../../src/reconcile/actual.js";
import { HostsReader } from "../../src/hosts/reader.js";
import { ClusterReader } from "../../src/adapters/kubectl/reader.js";
import { RegistryReader } from "../../src/adapters/consul/reader.js";
import { hostParts } from "../../src/runtime-io/index.js";
import { applyPlan, newRun } from "../../src/reconcile/apply.js";
import { render } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import type { HostConnector, HostRef, HostSession } from "../../src/ports/hosts.js";
import { fleetSupported, startFleet, type TestFleet } from "../../test/support/netns-hosts.js";
import { billingSpec, fleetEnvironment } from "../../test/support/fleet-config.js";
import { buildPackage, EXAMPLE_PACKAGE, EXAMPLE_SHA, killUnder } from "../../test/support/local-host.js";

const sizes = (process.argv[2] ?? "5,20").split(",").map(Number);
const maxUnavailableArg = process.argv[3] ?? "all";
const rounds = Number(process.argv[4] ?? 1);

/** One remote command of the traced host: what it was, when it started (ms from the phase's start), how long. */
interface Step {
  label: string;
  at: number;
  ms: number;
  /** CPU ms of every process of the bench while it ran (meaningful with one host), when measured. */
  cpuMs: number | null;
}

/** A short name for a command amphi sent: the host script's name (and its action), or the command itself. */
function label(argv: string[]): string {
  if (argv[0] === "sh" && argv[1] === "-c") {
    const text = argv[2] ?? "";
    if (text.startsWith("for f in state.json")) return "state read";
    if (text.startsWith("umask 077")) return "state write";
    if (text.startsWith("t=")) return "put";
    const names = [...text.matchAll(/^# ([a-z-]+\.sh)/gm)].map((m) => m[1]).filter((n) => n !== "lib.sh" && n !== "uid.sh"); // the parts put before every script
    const name = names[0] ?? text.slice(0, 20);
    return name === "control.sh" ? `control ${argv[7] ?? ""}` : name.replace(/\.sh$/, "");
  }
  return argv.slice(0, 2).join(" ");
}

/** Wraps a connector so the commands sent to `traced` are recorded with their offsets. */
function tracing(inner: HostConnector, traced: string, steps: Step[], t0: { v: number }): HostConnector {
  return {
    async open(ref: HostRef, signal?: AbortSignal): Promise<HostSession> {
      const s = await inner.open(ref, signal);
      if (ref.host !== traced) return s;
      const record = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
        const start = performance.now();
        const c0 = cpu.ns();
        try {
          return await f();
        } finally {
          const c1 = cpu.ns();
          steps.push({ label: name, at: start - t0.v, ms: performance.now() - start, cpuMs: c0 === null || c1 === null ? null : (c1 - c0) / 1e6 });
        }
      };
      return {
        host: s.host,
        exec: (argv, opts) => record(label(argv), () => s.exec(argv, opts)),
        putFile: (l, r, o) => record("putFile", () => s.putFile(l, r, o)),
        close: () => s.close(),
      };
    },
    closeAll: () => inner.closeAll(),
  };
}

/** Plans against the live hosts and applies; returns wall ms, tasks ok/total and the traced host's steps. */
async function applyOnce(repo: string, connector: SshConnector, traced: string, parallel: number): Promise<{ wall: number; ok: number; total: number; changed: number; steps: Step[] }> {
  const source = new DirSource(repo);
  const steps: Step[] = [];
  const t0 = { v: performance.now() };
  const model = await loadModel(source);
  const env = model.environments[0]!;
  const conn = tracing(connector, traced, steps, t0);
  const hosts = hostRefs(env, repo);
  const now = () => new Date().toISOString();
  const actual = await readActual(env, [new HostsReader({ connector: conn, hosts, parts: hostParts(), now, parallel }), new ClusterReader(undefined), new RegistryReader()], { now });
  const desired = render(model, env.name);
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), { billing: [] }, null);
  const handlers = { hosts: new HostTaskHandler({ connector: conn, hosts, parts: hostParts(), packages: new PackageResolver(source, join(repo, ".cache")), env: env.name, now, healthTimeoutMs: 30_000 }) };
  const run = await applyPlan(model, plan, desired, newRun("r-bench-deploy", plan, repo, new Date()), {
    handlers, store: new MemoryStateStore(), clock: { now: () => new Date() }, parallel, signal: new AbortController().signal,
  });
  const wall = performance.now() - t0.v;
  const failed = run.tasks.filter((t) => t.state !== "succeeded");
  for (const t of failed.slice(0, 3)) console.log(`  ! ${t.target} ${t.kind}: ${t.state} ${t.message}`);
  return {
    wall,
    ok: run.tasks.length - failed.length,
    total: run.tasks.length,
    changed: run.tasks.filter((t) => t.result === "changed").length,
    steps,
  };
}

function writeRepo(repo: string, fleet: TestFleet, version: string, pkg: { file: string; sha256: string }, maxUnavailable: number): void {
  writeFileSync(join(repo, "apps/billing/spec.yaml"), billingSpec({ port: 9100, version, path: `packages/${pkg.file}`, sha256: pkg.sha256 }));
  writeFileSync(join(repo, "environments/bench.yaml"), fleetEnvironment(fleet, { user: "amphitest", capture: false, maxUnavailable }));
}

function printSteps(steps: Step[]): void {
  let end = 0;
  for (const s of steps.sort((a, b) => a.at - b.at)) {
    const gap = s.at - end;
    const cpuText = s.cpuMs === null ? "" : `  CPU ${s.cpuMs.toFixed(0).padStart(5)} ms`;
    console.log(`    ${s.at.toFixed(0).padStart(6)} ms  +${gap.toFixed(0).padStart(4)}  ${s.label.padEnd(18)} ${s.ms.toFixed(1).padStart(7)} ms${cpuText}`);
    end = s.at + s.ms;
  }
}

/** CPU time (ns) of this process and every process it starts, through a cpuacct cgroup of its own; null where
 * there is none. Only accounting: no limit or share is set. */
function cpuAccounting(): { ns(): number | null; close(): void } {
  const root = "/sys/fs/cgroup/cpuacct";
  const dir = `${root}/amphi-bench-deploy-${process.pid}`;
  try {
    if (!existsSync(`${root}/cgroup.procs`)) throw new Error("no cpuacct");
    mkdirSync(dir);
    writeFileSync(`${dir}/cgroup.procs`, String(process.pid));
  } catch {
    return { ns: () => null, close: () => {} };
  }
  return {
    ns: () => Number(readFileSync(`${dir}/cpuacct.usage`, "utf8")),
    close: () => {
      writeFileSync(`${root}/cgroup.procs`, String(process.pid));
      try {
        rmdirSync(dir);
      } catch (e) {
        console.error(`could not remove ${dir}: ${(e as Error).message}`);
      }
    },
  };
}
const cpu = cpuAccounting();

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

async function bench(n: number): Promise<void> {
  const t0 = performance.now();
  const fleet = await startFleet({ count: n, prefix: `dep${process.pid % 1000}h` });
  const maxUnavailable = maxUnavailableArg === "all" ? n : Number(maxUnavailableArg);
  console.log(`\n${n} hosts (started in ${((performance.now() - t0) / 1000).toFixed(1)} s), parallel ${n}, maxUnavailable ${maxUnavailable}, load ${load()}`);
  const repo = mkdtempSync(join(tmpdir(), `amphi-bench-deploy-${process.pid}-`));
  const connector = new SshConnector({ knownHostsFile: fleet.knownHostsPath });
  try {
    mkdirSync(join(repo, "apps/billing"), { recursive: true });
    mkdirSync(join(repo, "environments"), { recursive: true });
    mkdirSync(join(repo, "packages"), { recursive: true });
    copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing-2.3.0.tar.gz"));
    const v2 = buildPackage(repo, "packages/billing-2.4.0", { VERSION: "2.4.0\n" });
    const pkgs = [
      { version: "2.3.0", file: "billing-2.3.0.tar.gz", sha256: EXAMPLE_SHA },
      { version: "2.4.0", file: "billing-2.4.0.tar.gz", sha256: v2.sha256 },
    ];
    const traced = fleet.hosts[0]!.name;
    for (let round = 0; round < rounds; round++) {
      const phases: Array<[string, (typeof pkgs)[number]]> = [
        ["first deploy", pkgs[0]!],
        ["version change", pkgs[1]!],
        ["no-op re-apply", pkgs[1]!],
      ];
      for (const [name, pkg] of phases) {
        writeRepo(repo, fleet, pkg.version, pkg, maxUnavailable);
        const c0 = cpu.ns();
        const own0 = process.cpuUsage();
        const r = await applyOnce(repo, connector, traced, n);
        const own = process.cpuUsage(own0);
        const c1 = cpu.ns();
        const ownS = (own.user + own.system) / 1e6;
        const cpuText = c0 === null || c1 === null ? "" : `  CPU ${((c1 - c0) / 1e9).toFixed(2)} s (amphi ${ownS.toFixed(2)} s)`;
        console.log(`  ${name.padEnd(15)} wall ${(r.wall / 1000).toFixed(2)} s${cpuText}  ${r.steps.length} commands on ${traced}  tasks ${r.ok}/${r.total} ok, ${r.changed} changed  (load ${load()})`);
        if (process.env.TRACE !== "0") printSteps(r.steps);
      }
      // Undeploy everywhere, so the next round deploys from scratch again.
      const env = (await loadModel(new DirSource(repo))).environments[0]!;
      await Promise.all([...hostRefs(env, repo).values()].map(async (ref) => undeploy({ session: await connector.open(ref), env: env.name, now: () => new Date().toISOString(), log: () => {} }, "billing")));
    }
  } finally {
    await connector.closeAll();
    for (const h of fleet.hosts) killUnder(h.baseDir);
    await fleet.cleanup();
    rmSync(repo, { recursive: true, force: true });
  }
}

const support = fleetSupported();
if (!support.ok) {
  console.error(`bench/hosts/deploy needs sshd test hosts: ${support.reason}`);
  process.exit(1);
}
console.log(`bench/hosts/deploy: node ${process.version}, sizes ${sizes.join(",")}, rounds ${rounds}`);
try {
  for (const n of sizes) await bench(n);
} finally {
  cpu.close();
}

// bench/hosts/fanout: deploy the example package to N netns sshd hosts in parallel through amphi's apply
// pipeline (plan against live state, tasks, ssh), with TCP_NODELAY on and off. Prints wall time, commands
// per host, per-command latency and peak memory. Needs root (network namespaces).
// Usage: node --import tsx bench/hosts/fanout.ts [hosts=20] [parallel=hosts]
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
import { fleetSupported, startFleet } from "../../test/support/netns-hosts.js";
import { billingSpec, fleetEnvironment } from "../../test/support/fleet-config.js";
import { EXAMPLE_PACKAGE, EXAMPLE_SHA, killUnder } from "../../test/support/local-host.js";

const n = Number(process.argv[2] ?? 20);
const parallel = Number(process.argv[3] ?? n);

/** Wraps a connector so every command's latency is recorded. */
function timed(inner: HostConnector, latencies: number[]): HostConnector {
  return {
    async open(ref: HostRef, signal?: AbortSignal): Promise<HostSession> {
      const s = await inner.open(ref, signal);
      return {
        host: s.host,
        exec: async (argv, opts) => {
          const t0 = performance.now();
          try {
            return await s.exec(argv, opts);
          } finally {
            latencies.push(performance.now() - t0);
          }
        },
        putFile: (l, r, o) => s.putFile(l, r, o),
        close: () => s.close(),
      };
    },
    closeAll: () => inner.closeAll(),
  };
}



async function deployAll(repo: string, noDelay: boolean): Promise<void> {
  const source = new DirSource(repo);
  const model = await loadModel(source);
  const env = model.environments[0]!;
  const latencies: number[] = [];
  const connector = timed(new SshConnector({ noDelay, knownHostsFile: env.hostGroups[0]!.ssh.knownHostsFile! }), latencies);
  const hosts = hostRefs(env, repo);
  const now = () => new Date().toISOString();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const actual = await readActual(env, [new HostsReader({ connector, hosts, parts: hostParts(), now, parallel }), new ClusterReader(undefined), new RegistryReader()], { now });
  const desired = render(model, env.name);
  const plan = buildPlan(diff(desired, actual, { ignore: [] }), { billing: [] }, null);
  const handlers = { hosts: new HostTaskHandler({ connector, hosts, parts: hostParts(), packages: new PackageResolver(source, join(repo, ".cache")), env: env.name, now, healthTimeoutMs: 30_000 }) };
  const run = await applyPlan(model, plan, desired, newRun(`r-bench-${noDelay ? "nodelay" : "nagle"}`, plan, repo, new Date()), {
    handlers, store: new MemoryStateStore(), clock: { now: () => new Date() }, parallel, signal: new AbortController().signal,
  });
  const wall = performance.now() - t0;
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
  const ok = run.tasks.filter((t) => t.state === "succeeded").length;
  console.log(
    `TCP_NODELAY ${noDelay ? "on " : "off"}: ${n} hosts, ${ok}/${run.tasks.length} deploys ok, wall ${(wall / 1000).toFixed(2)} s, ` +
      `${(latencies.length / n).toFixed(1)} commands/host, per command median ${q(0.5)} ms p95 ${q(0.95)} ms, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (+${((peak - rss0) / 2 ** 20).toFixed(0)})`,
  );
  // Undeploy, so the next scenario deploys from scratch as well.
  for (const ref of hosts.values()) {
    const session = await connector.open(ref);
    await undeploy({ session, env: env.name, now, log: () => {} }, "billing");
  }
  await connector.closeAll();
}

const support = fleetSupported();
if (!support.ok) {
  console.error(`bench/hosts/fanout needs sshd test hosts: ${support.reason}`);
  process.exit(1);
}
const t0 = performance.now();
const fleet = await startFleet({ count: n });
console.log(`bench/hosts/fanout: fleet of ${n} sshd hosts started in ${((performance.now() - t0) / 1000).toFixed(1)} s; parallel ${parallel}; node ${process.version}`);
const repo = mkdtempSync(join(tmpdir(), `amphi-bench-fanout-${process.pid}-`));
try {
  mkdirSync(join(repo, "apps/billing"), { recursive: true });
  mkdirSync(join(repo, "environments"), { recursive: true });
  mkdirSync(join(repo, "packages"), { recursive: true });
  copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing.tar.gz"));
  writeFileSync(join(repo, "apps/billing/spec.yaml"), billingSpec({ port: 9100, path: "packages/billing.tar.gz", sha256: EXAMPLE_SHA }));
  writeFileSync(join(repo, "environments/bench.yaml"), fleetEnvironment(fleet, { user: "amphitest", capture: false, maxUnavailable: n }));
  await deployAll(repo, true);
  await deployAll(repo, false);
} finally {
  for (const h of fleet.hosts) killUnder(h.baseDir);
  await fleet.cleanup();
  rmSync(repo, { recursive: true, force: true });
}

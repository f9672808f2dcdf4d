// Which test files exist, which are quick, and in which order a run starts them: the one place test/run.mjs reads.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** The quick suites (`npm run test:quick`): pure code, no process started (no git, sshd, netns, iptables, kubectl,
 * chromium; test/no-spawn.mjs fails a quick file that starts one). Folders or files, by path from the repo root;
 * QUICK_EXCEPT takes files back out of a listed folder. */
export const QUICK = [
  "test/config/", "test/diff/", "test/dns/answer.test.ts", "test/dns/settings.test.ts", "test/health/", "test/mesh/",
  "test/model/", "test/pod-sync/", "test/property/", "test/render/", "test/report/", "test/runtimes/",
  "test/xds/strict.test.ts", "test/xds/strict-random.test.ts", "test/xds/budget.test.ts",
  "test/envoy-double/units.test.ts", "test/reconcile/",
];
export const QUICK_EXCEPT = [
  "test/config/sources.test.ts", // git
  "test/render/files.test.ts", // kubectl
  "test/report/cli-drift.test.ts", // the local transport's shell
  "test/report/html-chromium.test.ts", // chromium
  "test/report/mesh-graph-browser.test.ts", // chromium
];

/** The name of the file that imports the selected quick suites to run them in one process (test/run.mjs), as the
 * summary and DURATIONS_FILE name it. */
export const QUICK_BATCH = "quick-suites.test.mjs";

/** Files that are not quick — they listen on ports, start git, age, kubectl, sshd hosts or a shell, or wait out timeouts
 * (a second or more each: too slow for the edit-test loop) — that a whole run imports into a few more processes, one
 * per batch named here, as it does the quick suites. Alone, each spent ~0.6–0.9 s of CPU starting node and loading its
 * ~150 modules, and more beside three other files on two cores: the first 53 files took 53.1 and 55.5 s of CPU one
 * process each, 23.4 and 22.3 s in one; 30 files of the later batches 194.2 and 167.5 s, 110.7 and 106.2 s in one
 * (cgroup, whole process tree, 4 files at a time either way; in a whole run, 748.4 → 727.6 s). A batch runs its files
 * one after another, so each is kept to ~30–50 s alone, under the longest single files. A file listed here runs its
 * tests one after another with the others': whatever it changes of the process (process.env, PATH, handlers) it
 * restores inside the test, and its top-level before/after hooks run at the batch's start and end (so a file whose
 * top-level hooks hold hosts or servers stays out). */
export const SHARED_BATCHES = {
  "shared-suites.test.mjs": [
    "test/cli/actual-file-source.test.ts", "test/cli/cli.test.ts", "test/cli/listen.test.ts",
    "test/config/sources.test.ts", "test/consul/adapter.test.ts", "test/consul/catalog-double.test.ts",
    "test/consul/double.test.ts", "test/consul/pod-read.test.ts", "test/consul/registry-drift.test.ts",
    "test/dns/batch.test.ts", "test/dns/fast-path.test.ts", "test/docs/readme.test.ts", "test/forge/forges.test.ts",
    "test/forge/git-notes.test.ts", "test/forge/http-forges.test.ts", "test/golden/example.test.ts",
    "test/hosts/capture-iptables.test.ts", "test/hosts/claim.test.ts", "test/hosts/host-parts.test.ts",
    "test/hosts/local-connector.test.ts", "test/hosts/mesh-dns-bundle.test.ts", "test/hosts/mesh-dns-liveness.test.ts",
    "test/hosts/sidecar-unit.test.ts", "test/hosts/state-file.test.ts", "test/kube-double/double-http.test.ts",
    "test/kube-double/fieldset.test.ts", "test/kube-double/kubeconfig.test.ts", "test/kube-double/quantity.test.ts",
    "test/kube/health.test.ts", "test/kube/output.test.ts", "test/loop/config-error.test.ts",
    "test/loop/consul-state.test.ts", "test/loop/pr-traffic.test.ts", "test/plan/format.test.ts",
    "test/plan/plan.test.ts", "test/plan/tasks.test.ts", "test/pods/init.test.ts", "test/render/files.test.ts",
    "test/report/cli-drift.test.ts", "test/runner/ports.test.ts", "test/runtime-io/list.test.ts",
    "test/runtime-io/mesh-proxies.test.ts", "test/runtime-io/mesh.test.ts", "test/secrets/sops-config.test.ts",
    "test/secrets/sops-rules.test.ts", "test/secrets/sops.test.ts", "test/secrets/upstream.test.ts",
    "test/server/page.test.ts", "test/transport/ssh-known-hosts.test.ts", "test/xds/metrics.test.ts",
    "test/xds/pod-dns.test.ts", "test/xds/rate-limit.test.ts", "test/xds/requests.test.ts",
  ],
  "shared-kube.test.mjs": [
    "test/kube-double/kubectl-apply.test.ts", "test/kube/adapter.test.ts", "test/kube/handler.test.ts",
    "test/kube/normalised-diff.test.ts", "test/kube/pod-registry-cli.test.ts", "test/kube/pod-registry-cycle.test.ts",
    "test/kube/random-repos.test.ts", "test/kube/self-heal.test.ts",
  ],
  "shared-hosts.test.mjs": [
    "test/hosts/archives.test.ts", "test/hosts/deploy-recovery.test.ts", "test/hosts/host-variants.test.ts",
    "test/hosts/mesh-dns.test.ts", "test/hosts/port-owner.test.ts", "test/hosts/ssh-tasks.test.ts",
    "test/hosts/state-write-failure.test.ts", "test/integration/registry-ssh.test.ts", "test/process/spawn.test.ts",
  ],
  "shared-xds.test.mjs": [
    "test/envoy-double/e2e.test.ts", "test/envoy-double/process.test.ts", "test/xds/ads-server.test.ts",
    "test/xds/applied-policy.test.ts", "test/xds/cli.test.ts", "test/xds/drift-proxies.test.ts",
    "test/xds/follow.test.ts", "test/xds/self-registered.test.ts",
  ],
  "shared-local.test.mjs": [
    "test/hosts/deploy-latency.test.ts", "test/hosts/supervisor.test.ts", "test/integration/apply-mesh.test.ts",
    "test/integration/apply-mixed.test.ts", "test/loop/pr-plan.test.ts", "test/loop/sources.test.ts",
    "test/loop/unreachable.test.ts",
  ],
  // one chromium for the three (test/support/browser.ts's launchBrowser hands the same browser to each file's hooks)
  "shared-browser.test.mjs": [
    "test/report/html-chromium.test.ts", "test/report/mesh-graph-browser.test.ts", "test/server/page-browser.test.ts",
  ],
  "shared-serve.test.mjs": [
    "test/consul/watch.test.ts", "test/dns/cli.test.ts", "test/pods/stand-in.test.ts",
    "test/server/api-access.test.ts", "test/server/page-serve.test.ts",
  ],
};

/** Every file of the shared batches. */
export const SHARED = Object.values(SHARED_BATCHES).flat();

/** Seconds each file took in a whole run on a quiet 2-core machine (`node test/run.mjs --record-times` refreshes
 * it). A run starts the longest files first, so the last ones to end are short; files not listed count as
 * UNKNOWN_SECONDS. */
export const DURATIONS_FILE = "test/durations.json";
const UNKNOWN_SECONDS = 3;

/** Every test file (test/**\/*.test.ts), by path from `root`, in name order. */
export function allTestFiles(root) {
  const walk = (dir) => {
    const out = [];
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (name === "node_modules" || name === "fixtures") continue;
      if (statSync(path).isDirectory()) out.push(...walk(path));
      else if (name.endsWith(".test.ts")) out.push(relative(root, path));
    }
    return out;
  };
  return walk(join(root, "test"));
}

/** Whether a file (path from the repo root) is one of the quick suites. */
export function isQuick(file) {
  const listed = (list) => list.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p));
  return listed(QUICK) && !listed(QUICK_EXCEPT);
}

/** The shared batch a file (path from the repo root) runs in in a whole run, or null. */
export function sharedBatchOf(file) {
  if (isQuick(file)) return null;
  return Object.keys(SHARED_BATCHES).find((name) => SHARED_BATCHES[name].includes(file)) ?? null;
}

/** Whether a file (path from the repo root) runs in a shared batch of a whole run. */
export function isShared(file) {
  return sharedBatchOf(file) !== null;
}

/** `files` longest first by `durations` (seconds by path); ties and unknown files keep their order. */
export function longestFirst(files, durations) {
  const secs = (f) => (typeof durations[f] === "number" ? durations[f] : UNKNOWN_SECONDS);
  return files.map((f, i) => ({ f, i, s: secs(f) })).sort((a, b) => b.s - a.s || a.i - b.i).map((x) => x.f);
}

/** The recorded durations (an empty map when the file is missing or unreadable: order is only a speed hint). */
export function readDurations(root) {
  const path = join(root, DURATIONS_FILE);
  try {
    return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  } catch {
    return {};
  }
}

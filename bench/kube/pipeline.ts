// One bench/kube run in its own process: load the generated repo → render prod → read the cluster with kubectl
// → diff → plan → (with --apply) run the k8s tasks through ClusterTaskHandler. Prints one JSON line: steps,
// waves, tasks, kubectl invocations per stage and stage times. Only the cluster side of the repo is planned.
// Usage: pipeline.ts <repo> <namespace> [--apply] [--image <app>=<tag>] [--drop <n>]
// Env: AMPHI_BENCH_KUBECONFIG, AMPHI_BENCH_CONTEXT, AMPHI_BENCH_CACHEDIR (from double.ts); AMPHI_BENCH_DEBUG=1
// prints each kubectl call and the handler's log lines with a millisecond timestamp on stderr.
import { ClusterTaskHandler, readCluster, type KubectlOptions } from "../../src/adapters/kubectl/index.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { loadModel } from "../../src/config/index.js";
import { diff } from "../../src/diff/index.js";
import type { Model, TaskRecord } from "../../src/model/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { tasksForPlan } from "../../src/plan/tasks.js";
import { render } from "../../src/render/index.js";

const [repo, namespace, ...flags] = process.argv.slice(2);
if (!repo || !namespace) throw new Error("usage: pipeline.ts <repo> <namespace> [--apply] [--image app=tag] [--drop n]");
const flag = (name: string): string | undefined => {
  const i = flags.indexOf(name);
  return i >= 0 ? flags[i + 1] : undefined;
};

let invocations = 0;
const kubectl: KubectlOptions = {
  kubeconfig: process.env.AMPHI_BENCH_KUBECONFIG!,
  env: { ...process.env, KUBECACHEDIR: process.env.AMPHI_BENCH_CACHEDIR ?? "" },
  onSpawn: (args) => {
    invocations++;
    if (process.env.AMPHI_BENCH_DEBUG) process.stderr.write(`${Math.round(performance.now())} kubectl ${args.slice(5, 8).join(" ")}\n`);
  },
};
const ms: Record<string, number> = {};
const calls: Record<string, number> = {};
async function stage<T>(name: string, body: () => Promise<T> | T): Promise<T> {
  const [t0, c0] = [performance.now(), invocations];
  const out = await body();
  ms[name] = Math.round(performance.now() - t0);
  calls[name] = invocations - c0;
  return out;
}

function mutate(model: Model): Model {
  const env = model.environments.find((e) => e.name === "prod")!;
  env.clusters = env.clusters.map((c) => ({ ...c, context: process.env.AMPHI_BENCH_CONTEXT!, namespace: namespace! }));
  env.placements = env.placements.filter((p) => p.type === "cluster").map((p) => ({ ...p, namespace: namespace! }));
  const drop = Number(flag("--drop") ?? 0);
  if (drop > 0) env.placements = env.placements.slice(0, -drop);
  const image = flag("--image");
  if (image) {
    const [app, tag] = image.split("=");
    for (const p of env.placements) if (p.type === "cluster" && p.app === app) p.container.image = p.container.image.replace(/:[^:]+$/, `:${tag}`);
  }
  return model;
}

const model = await stage("load", async () => mutate(await loadModel(new DirSource(repo))));
const env = model.environments.find((e) => e.name === "prod")!;
const desired = await stage("render", () => render(model, "prod"));
const cluster = env.clusters[0]!;
const actual = await stage("read", () => readCluster(cluster, "prod", kubectl));
const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
const plan = await stage("plan", () =>
  buildPlan(diff(desired, { env: "prod", observedAt: null, resources: actual.resources, unreachable: [] }, { ignore: env.ignoreDifferences }), deps, null),
);
const tasks = tasksForPlan(plan, desired);
if (flags.includes("--apply")) {
  const handler = new ClusterTaskHandler({ clusters: env.clusters, env: "prod", kubectl, healthTimeoutMs: 60_000, forceConflicts: false });
  const signal = new AbortController().signal;
  await stage("apply", async () => {
    // As the executor does for one cluster: its tasks one after another, wave by wave.
    for (const spec of tasks) {
      const record: TaskRecord = {
        id: "bench", runId: "bench", kind: spec.kind, target: spec.target, app: spec.app, wave: spec.wave, keys: spec.keys,
        state: "running", result: null, message: "", createdAt: "", startedAt: null, endedAt: null, output: [],
      };
      const log = (line: string): void => void (process.env.AMPHI_BENCH_DEBUG && process.stderr.write(`${Math.round(performance.now())} ${line}\n`));
      await handler.run({ ...record, spec }, { signal, log });
    }
  });
}
const summary = plan.summary;
process.stdout.write(
  JSON.stringify({ objects: desired.resources.length, steps: plan.steps.length, summary, waves: new Set(tasks.map((t) => t.wave)).size, tasks: tasks.length, invocations, calls, ms }) + "\n",
);

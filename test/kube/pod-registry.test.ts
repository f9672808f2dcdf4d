// Pod instances in Consul, end to end: the real kubectl against the kube-apiserver double (pods created and
// their Ready condition set through the status subresource, as a kubelet would) and the Consul double (or
// a real Consul at CONSUL_HTTP_ADDR). The sync once (a cycle), the watch of `amphi serve` (times printed),
// other environments' pods and foreign registrations untouched, an unreadable cluster's registrations kept,
// and drift rows.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ConsulClient } from "../../src/adapters/consul/client.js";
import { consulPodCatalog, readPodRegistrations, registerPod } from "../../src/adapters/consul/pods.js";
import { KubectlPodSource } from "../../src/adapters/kubectl/pods.js";
import { formatRegistryDrift, podRegistryDrift } from "../../src/health/index.js";
import type { EnvironmentModel, Model, PodRegistration } from "../../src/model/index.js";
import type { PodSource } from "../../src/ports/pods.js";
import { podRegistration } from "../../src/pod-sync/index.js";
import { render } from "../../src/render/index.js";
import { syncPods, type PodSyncDeps } from "../../src/reconcile/pod-sync.js";
import { PodWatcher } from "../../src/reconcile/pod-watch.js";
import { consulTestTarget, type ConsulTestTarget } from "../support/consul/index.js";
import { kubeTestTarget, type KubeTestTarget } from "../support/kubeconfig.js";
import { eventually } from "../consul/helpers.js";
import { clusterOf, deleteNamespaces, exampleModel, kubectlOptions, kubectlText, skipWithoutKubectl, uniqueNamespace } from "./support.js";

const USER_IMAGE = "registry.example.com/shop/user:1.4.2";

describe("pod instances in Consul (kubectl + kube double + Consul)", { skip: skipWithoutKubectl() }, () => {
  let kube: KubeTestTarget;
  let consul: ConsulTestTarget;
  let client: ConsulClient;
  const namespaces = new Set<string>();
  const written: PodRegistration[] = [];

  before(async () => {
    [kube, consul] = await Promise.all([kubeTestTarget(), consulTestTarget()]);
    client = new ConsulClient({ address: consul.url, token: consul.token ?? null });
  });
  after(async () => {
    for (const r of written) await client.put("/v1/catalog/deregister", { body: { Node: r.node, ServiceID: r.id } }).catch(() => {});
    await deleteNamespaces(kube, namespaces);
    await Promise.all([kube?.close(), consul?.close()]);
  });

  /** The example's prod, renamed to a unique environment (a real Consul may be shared), in its own namespace
   * on the double (eu1) with us1 on a context kubectl cannot use, and Consul at the test target. */
  async function setup(label: string): Promise<{ ns: string; model: Model; env: EnvironmentModel; deps: PodSyncDeps }> {
    const ns = uniqueNamespace(label);
    namespaces.add(ns);
    await kubectlText(kube, ["create", "namespace", ns]);
    const base = await exampleModel(ns);
    const name = `t${process.pid}x${randomBytes(3).toString("hex")}`;
    const prod = base.environments.find((e) => e.name === "prod")!;
    const env: EnvironmentModel = {
      ...prod,
      name,
      consul: { ...prod.consul, enabled: true, address: consul.url, tokenEnv: consul.token ? "AMPHI_TEST_CONSUL_TOKEN" : null },
      clusters: [clusterOf(kube, "eu1", ns), { ...clusterOf(kube, "us1", ns), context: "amphi-no-such-context" }],
    };
    const model: Model = { ...base, environments: [env] };
    const processEnv = { AMPHI_TEST_CONSUL_TOKEN: consul.token };
    const deps = { pods: new KubectlPodSource({ ...kubectlOptions(kube), minBackoffMs: 100 }), catalog: consulPodCatalog(env, processEnv) };
    return { ns, model, env, deps };
  }

  async function createPod(ns: string, name: string, env: string, app = "user", image = USER_IMAGE, annotations: Record<string, string> = {}): Promise<void> {
    const pod = {
      apiVersion: "v1", kind: "Pod",
      metadata: { name, namespace: ns, labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": app, "amphi.dev/env": env }, annotations },
      spec: { containers: [{ name: "app", image }, { name: "amphi-proxy", image: "envoyproxy/envoy:v1.31.2" }] },
    };
    await kubectlText(kube, ["apply", "-f", "-"], JSON.stringify(pod));
  }

  /** Sets the pod's status as a kubelet would: its IP and the Ready condition. */
  async function setReady(ns: string, name: string, ready: boolean, ip: string): Promise<void> {
    const status = { status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] } };
    await kubectlText(kube, ["patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
  }

  async function registered(env: string): Promise<string[]> {
    const regs = await readPodRegistrations(client, env);
    return regs.map((r) => `${r.node} ${r.id} ${r.address}:${r.port} ${r.version} ${r.check}`);
  }

  test("a sync registers ready pods (VM-like tags and meta plus runtime, cluster, pod), not others' pods; not ready and deleted pods leave", async () => {
    const { ns, model, env, deps } = await setup("sync");
    await createPod(ns, "user-a", env.name);
    await createPod(ns, "user-b", env.name);
    await createPod(ns, "user-other-env", "staging");
    await setReady(ns, "user-a", true, "10.1.0.7");
    await setReady(ns, "user-b", false, "10.1.0.8");
    await setReady(ns, "user-other-env", true, "10.1.0.9");

    const first = await syncPods(deps, env, model.apps);
    written.push(...first.done.map((s) => s.registration));
    assert.deepEqual(first.failed, []);
    assert.deepEqual(await registered(env.name), [`amphi-k8s-eu1 ${ns}.user-a-8091 10.1.0.7:8091 1.4.2 passing`]);
    const [reg] = await readPodRegistrations(client, env.name);
    assert.deepEqual(reg!.tags, ["amphi", `env:${env.name}`, "app:user", "version:1.4.2", "runtime:k8s"]);
    assert.deepEqual(reg!.meta, {
      "amphi-app": "user", "amphi-env": env.name, "amphi-version": "1.4.2", "amphi-runtime": "k8s",
      "amphi-cluster": "eu1", "amphi-namespace": ns, "amphi-pod": "user-a",
    });
    assert.deepEqual(first.unreadable.map((u) => u.cluster), ["us1"]);
    assert.match(first.unreadable[0]!.reason, /cluster us1 \(context amphi-no-such-context\)/);

    // A second sync in the same state changes nothing.
    assert.deepEqual((await syncPods(deps, env, model.apps)).plan.steps, []);

    await setReady(ns, "user-b", true, "10.1.0.8");
    await setReady(ns, "user-a", false, "10.1.0.7");
    written.push(...(await syncPods(deps, env, model.apps)).done.map((s) => s.registration));
    assert.deepEqual(await registered(env.name), [`amphi-k8s-eu1 ${ns}.user-b-8091 10.1.0.8:8091 1.4.2 passing`]);

    await kubectlText(kube, ["delete", "pod", "user-b", "-n", ns]);
    await syncPods(deps, env, model.apps);
    assert.deepEqual(await registered(env.name), []);
  });

  test("an unreadable cluster keeps its registrations; registrations amphi did not make are never removed", async () => {
    const { ns, model, env, deps } = await setup("kept");
    const pod = { cluster: "us1", namespace: ns, name: "user-us", app: "user", env: env.name, ip: "10.2.0.7", ready: true, image: USER_IMAGE, version: null };
    const us1 = podRegistration(env.name, pod, "user", 8091);
    // On eu1's node, but not amphi's (no `amphi` tag), and one of another environment.
    const foreign = { ...podRegistration(env.name, { ...pod, cluster: "eu1", name: "foreign" }, "user", 8091), tags: [`env:${env.name}`, "runtime:k8s"] };
    const otherEnv = podRegistration(`${env.name}o`, { ...pod, cluster: "eu1", name: "other", env: `${env.name}o` }, "user", 8091);
    for (const r of [us1, foreign, otherEnv]) {
      await registerPod(client, r);
      written.push(r);
    }
    const r = await syncPods(deps, env, model.apps);
    assert.deepEqual(r.plan.kept, ["us1"]);
    assert.deepEqual(r.plan.steps, []);
    assert.deepEqual(await registered(env.name), [`amphi-k8s-us1 ${ns}.user-us-8091 10.2.0.7:8091 1.4.2 passing`]);
    const all = (await client.get<{ Node: { Node: string }; Service: { ID: string } }[]>("/v1/health/service/user")).data.map((e) => `${e.Node.Node} ${e.Service.ID}`);
    for (const x of [foreign, otherEnv]) assert.ok(all.includes(`${x.node} ${x.id}`), `${x.id} is still registered`);
  });

  test("serve's pod watch: ready → registered, not ready → gone, deleted → gone, each within seconds", async () => {
    const { ns, model, env, deps } = await setup("watch");
    const logs: string[] = [];
    const watcher = new PodWatcher({ pods: deps.pods, catalogFor: () => deps.catalog, log: (l) => logs.push(l) });
    try {
      watcher.observed({ env, model });
      await createPod(ns, "user-w", env.name);
      const want = `amphi-k8s-eu1 ${ns}.user-w-8091 10.1.0.20:8091 1.4.2 passing`;
      let t0 = performance.now();
      await setReady(ns, "user-w", true, "10.1.0.20");
      await eventually("the ready pod registered", async () => (await registered(env.name)).includes(want), 15_000);
      const registeredMs = performance.now() - t0;
      written.push(...(await readPodRegistrations(client, env.name)));

      t0 = performance.now();
      await setReady(ns, "user-w", false, "10.1.0.20");
      await eventually("the unready pod gone", async () => (await registered(env.name)).length === 0, 15_000);
      const unreadyMs = performance.now() - t0;

      await setReady(ns, "user-w", true, "10.1.0.20");
      await eventually("the pod registered again", async () => (await registered(env.name)).includes(want), 15_000);
      t0 = performance.now();
      await kubectlText(kube, ["delete", "pod", "user-w", "-n", ns]);
      await eventually("the deleted pod gone", async () => (await registered(env.name)).length === 0, 15_000);
      const deletedMs = performance.now() - t0;
      console.log(`pod watch → Consul: ready→registered ${registeredMs.toFixed(0)} ms, not ready→gone ${unreadyMs.toFixed(0)} ms, deleted→gone ${deletedMs.toFixed(0)} ms`);
      assert.ok(logs.some((l) => l.includes(`deregister  user/${ns}.user-w-8091 10.1.0.20:8091: pod ${ns}/user-w on eu1 is gone`)), logs.join("\n"));
    } finally {
      await watcher.stop();
    }
  });

  test("drift: a ready pod missing from Consul, a registration of a gone pod, a wrong version", async () => {
    const { ns, model, env, deps } = await setup("drift");
    await createPod(ns, "user-new", env.name);
    await createPod(ns, "user-old", env.name);
    await setReady(ns, "user-new", true, "10.1.0.30");
    await setReady(ns, "user-old", true, "10.1.0.31");
    const base = { cluster: "eu1", namespace: ns, app: "user", env: env.name, ready: true, version: null };
    const stale = podRegistration(env.name, { ...base, name: "user-old", ip: "10.1.0.31", image: "registry.example.com/shop/user:1.4.1" }, "user", 8091);
    const gone = podRegistration(env.name, { ...base, name: "user-gone", ip: "10.1.0.32", image: USER_IMAGE }, "user", 8091);
    for (const r of [stale, gone]) {
      await registerPod(client, r);
      written.push(r);
    }
    const r = await syncPods(deps, env, model.apps, { apply: false });
    assert.deepEqual(podRegistryDrift(r.plan).map(formatRegistryDrift), [
      `unexpected  user/${ns}.user-gone-8091: registered in Consul (10.1.0.32:8091) but pod ${ns}/user-gone on eu1 is gone`,
      `missing     user/${ns}.user-new-8091: pod ${ns}/user-new is ready but not registered in Consul (want 10.1.0.30:8091)`,
      `version     user/${ns}.user-old-8091: version 1.4.1 in Consul, pod ${ns}/user-old runs 1.4.2`,
    ]);
    assert.equal((await readPodRegistrations(client, env.name)).length, 2, "deciding alone writes nothing");
  });

  test("a pod of an app whose container names its version registers with that version, not the image tag", async () => {
    const { ns, model, env, deps } = await setup("version");
    // The app pinned by digest and named 1.5.0, as a config repo would say it; the pod carries what render put
    // on its Deployment's pod template (a ReplicaSet copies the template's annotations onto each pod).
    const digest = `registry.example.com/shop/user@sha256:${"e".repeat(64)}`;
    const placements = env.placements.map((p) => (p.type === "cluster" && p.app === "user" ? { ...p, container: { ...p.container, image: digest, version: "1.5.0" } } : p));
    const pinned: Model = { ...model, environments: [{ ...env, placements }] };
    const deployment = render(pinned, env.name).resources.find((r) => r.runtime === "k8s" && r.key.endsWith(`/Deployment/${ns}/user`));
    assert.ok(deployment && deployment.runtime === "k8s", "user's Deployment rendered");
    const template = (deployment.object as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template;
    await createPod(ns, "user-v", env.name, "user", digest, template.metadata.annotations);
    await setReady(ns, "user-v", true, "10.1.0.40");
    const r = await syncPods(deps, env, model.apps);
    written.push(...r.done.map((s) => s.registration));
    assert.deepEqual(await registered(env.name), [`amphi-k8s-eu1 ${ns}.user-v-8091 10.1.0.40:8091 1.5.0 passing`]);
    const [reg] = await readPodRegistrations(client, env.name);
    assert.ok(reg!.tags.includes("version:1.5.0") && reg!.meta["amphi-version"] === "1.5.0", JSON.stringify(reg));
  });

  test("serve: a cycle's sync and the watch's syncs queue as one writer — a pod that goes unready during a slow cycle sync ends deregistered", async () => {
    const { ns, model, env, deps } = await setup("race");
    // The cycle's next read of eu1 is held after it read the pods: as a slow API server or a busy cycle would.
    let hold: { release(): void; reached(): void; gate: Promise<void>; at: Promise<void> } | null = null;
    const pods: PodSource = {
      list: async (e, cluster, signal) => {
        const list = await deps.pods.list(e, cluster, signal);
        const h = cluster.name === "eu1" ? hold : null;
        if (h) {
          hold = null;
          h.reached();
          await h.gate;
        }
        return list;
      },
      watch: (e, cluster, cb) => deps.pods.watch(e, cluster, cb),
    };
    const logs: string[] = [];
    const watcher = new PodWatcher({ pods, catalogFor: () => deps.catalog, log: (l) => logs.push(l) });
    const want = `amphi-k8s-eu1 ${ns}.user-r-8091 10.1.0.50:8091 1.4.2 passing`;
    try {
      watcher.observed({ env, model });
      await createPod(ns, "user-r", env.name);
      await setReady(ns, "user-r", true, "10.1.0.50");
      await eventually("the ready pod registered by the watch", async () => (await registered(env.name)).includes(want), 15_000);
      written.push(...(await readPodRegistrations(client, env.name)));

      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const at = new Promise<void>((r) => (reached = r));
      hold = { release, reached, gate, at };
      const cycle = watcher.syncNow(env, model.apps, {});
      await at;
      // The cycle's sync has read the pod as ready; now it stops being ready, and the watch sees it at once.
      await setReady(ns, "user-r", false, "10.1.0.50");
      await new Promise((r) => setTimeout(r, 1500));
      release();
      const r = await cycle;
      assert.ok(r, logs.join("\n"));
      // One writer: whatever the cycle decided from its earlier read, the watch's sync after it has the last word.
      await eventually("the unready pod gone", async () => (await registered(env.name)).length === 0, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await registered(env.name), [], logs.join("\n"));
    } finally {
      hold = null;
      await watcher.stop();
    }
  });
});

// The pod sync's pure decision: pods seen per cluster × amphi's pod registrations → register/deregister.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EnvironmentModel, PodInfo, PodRegistration } from "../../src/model/index.js";
import { decidePodSync, formatPodStep, isOwnPodRegistration, podInstanceId, podNode, podRegistration, podRegistrations, type PodSyncInput } from "../../src/pod-sync/index.js";
import { fixtureApps, fixtureEnvironment } from "../support/model-fixture.js";

const apps = fixtureApps();
function env(): EnvironmentModel {
  const e = fixtureEnvironment(apps);
  return { ...e, clusters: [...e.clusters, { name: "us1", context: "prod-us1", namespace: "shop", forceConflicts: true }] };
}

function pod(name: string, over: Partial<PodInfo> = {}): PodInfo {
  return { cluster: "eu1", namespace: "shop", name, app: "catalog", env: "prod", ip: "10.1.0.7", ready: true, image: "registry.example.com/shop/catalog:1.8.1", version: null, ...over };
}

function input(over: Partial<PodSyncInput>): PodSyncInput {
  return { env: env(), apps, seen: [{ cluster: "eu1", pods: [] }], unreadable: [], current: [], pruneRemovedClusters: true, ...over };
}

/** Registrations as amphi writes them for a pod (as read back: same fields). */
function registered(p: PodInfo): PodRegistration[] {
  return podRegistrations(env(), apps, [{ ...p, ready: true }]);
}

describe("podRegistrations", () => {
  it("gives one instance per (service, port) of a ready pod with VM-like tags and meta plus runtime, cluster and pod", () => {
    const regs = podRegistrations(env(), apps, [pod("catalog-7d9f-x2")]);
    assert.deepEqual(regs.map((r) => `${r.node} ${r.id} ${r.service} ${r.address}:${r.port}`), [
      "amphi-k8s-eu1 shop.catalog-7d9f-x2-8080 catalog 10.1.0.7:8080",
      "amphi-k8s-eu1 shop.catalog-7d9f-x2-9090 catalog 10.1.0.7:9090",
    ]);
    assert.deepEqual(regs[0]!.tags, ["amphi", "env:prod", "app:catalog", "version:1.8.1", "runtime:k8s"]);
    assert.deepEqual(regs[0]!.meta, {
      "amphi-app": "catalog", "amphi-env": "prod", "amphi-version": "1.8.1", "amphi-runtime": "k8s",
      "amphi-cluster": "eu1", "amphi-namespace": "shop", "amphi-pod": "catalog-7d9f-x2",
    });
    assert.equal(regs[0]!.check, "passing");
  });

  it("takes the version from the pod's own image (an older pod in a rollout keeps its version)", () => {
    const [r] = podRegistrations(env(), apps, [pod("old", { image: "registry.example.com/shop/catalog:1.7.0" })]);
    assert.equal(r!.version, "1.7.0");
    assert.ok(r!.tags.includes("version:1.7.0"));
  });

  it("skips pods that are not ready, have no IP, belong to another environment or to an unknown app", () => {
    const regs = podRegistrations(env(), apps, [
      pod("a", { ready: false }), pod("b", { ip: "" }), pod("c", { env: "staging" }), pod("d", { app: "ghost" }),
    ]);
    assert.deepEqual(regs, []);
  });

  it("names nodes per cluster and IDs unambiguously", () => {
    assert.equal(podNode("eu1"), "amphi-k8s-eu1");
    assert.equal(podInstanceId("shop", "catalog-1", 8080), "shop.catalog-1-8080");
  });
});

describe("decidePodSync", () => {
  it("registers a ready pod that Consul does not have", () => {
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [pod("p1")] }] }));
    assert.deepEqual(plan.steps.map(formatPodStep), [
      "register    catalog/shop.p1-8080 10.1.0.7:8080 version 1.8.1 (new)",
      "register    catalog/shop.p1-9090 10.1.0.7:9090 version 1.8.1 (new)",
    ]);
  });

  it("does nothing when Consul has every ready pod as wanted", () => {
    const p = pod("p1");
    assert.deepEqual(decidePodSync(input({ seen: [{ cluster: "eu1", pods: [p] }], current: registered(p) })).steps, []);
  });

  it("deregisters the registrations of a pod that is not ready or gone, saying which", () => {
    const a = pod("a");
    const b = pod("b", { ip: "10.1.0.8" });
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [{ ...a, ready: false }] }], current: [...registered(a), ...registered(b)] }));
    assert.deepEqual(plan.steps.map(formatPodStep), [
      "deregister  catalog/shop.a-8080 10.1.0.7:8080: pod shop/a on eu1 is not ready",
      "deregister  catalog/shop.a-9090 10.1.0.7:9090: pod shop/a on eu1 is not ready",
      "deregister  catalog/shop.b-8080 10.1.0.8:8080: pod shop/b on eu1 is gone",
      "deregister  catalog/shop.b-9090 10.1.0.8:9090: pod shop/b on eu1 is gone",
    ]);
  });

  it("re-registers a registration whose address, version or check is wrong", () => {
    const p = pod("p1");
    const [r8080, r9090] = registered(p);
    const wrong = [{ ...r8080!, address: "10.9.9.9", check: "critical" as const }, { ...r9090!, version: "1.7.0", tags: r9090!.tags.map((t) => (t.startsWith("version:") ? "version:1.7.0" : t)) }];
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [p] }], current: wrong }));
    assert.deepEqual(plan.steps.map(formatPodStep), [
      "register    catalog/shop.p1-8080 10.1.0.7:8080 version 1.8.1 (changed: address, check)",
      "register    catalog/shop.p1-9090 10.1.0.7:9090 version 1.8.1 (changed: version)",
    ]);
  });

  it("re-registers one whose tags or meta other than the version differ", () => {
    const p = pod("p1");
    const [r8080, r9090] = registered(p);
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [p] }], current: [{ ...r8080!, meta: { ...r8080!.meta, "amphi-pod": "other" } }, r9090!] }));
    assert.deepEqual(plan.steps.map(formatPodStep), ["register    catalog/shop.p1-8080 10.1.0.7:8080 version 1.8.1 (changed: labels)"]);
  });

  it("keeps the registrations of a cluster it could not read (never all gone because nothing was seen)", () => {
    const eu = pod("e");
    const us = pod("u", { cluster: "us1" });
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [] }], unreadable: ["us1"], current: [...registered(eu), ...registered(us)] }));
    assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.registration.node} ${s.registration.id}`), [
      "deregister amphi-k8s-eu1 shop.e-8080",
      "deregister amphi-k8s-eu1 shop.e-9090",
    ]);
    assert.deepEqual(plan.kept, ["us1"]);
  });

  it("never touches registrations that are not amphi's own pod instances of this environment", () => {
    const p = pod("p1");
    const [mine] = registered(p);
    const others: PodRegistration[] = [
      { ...mine!, tags: mine!.tags.filter((t) => t !== "amphi") },
      { ...mine!, id: "x1", tags: mine!.tags.map((t) => (t === "env:prod" ? "env:staging" : t)), meta: { ...mine!.meta, "amphi-env": "staging" } },
      { ...mine!, id: "x2", node: "some-other-node" },
      { ...mine!, id: "x3", meta: { ...mine!.meta, "amphi-runtime": "vm" } },
    ];
    for (const o of others) assert.equal(isOwnPodRegistration(o, "prod"), false, o.id);
    assert.deepEqual(decidePodSync(input({ seen: [{ cluster: "eu1", pods: [] }], current: others })).steps, []);
  });

  it("leaves other clusters alone when syncing one (a watch), prunes clusters the environment dropped (a cycle)", () => {
    const us = registered(pod("u", { cluster: "us1" }));
    const gone = registered(pod("g", { cluster: "old" }));
    const one = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [] }], current: [...us, ...gone], pruneRemovedClusters: false }));
    assert.deepEqual(one.steps, []);
    const all = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [] }], current: [...us, ...gone], pruneRemovedClusters: true }));
    assert.deepEqual(all.steps.map(formatPodStep), [
      "deregister  catalog/shop.g-8080 10.1.0.7:8080: cluster old is no longer in environment prod",
      "deregister  catalog/shop.g-9090 10.1.0.7:9090: cluster old is no longer in environment prod",
    ]);
  });

  it("deregisters a port the app no longer has", () => {
    const p = pod("p1");
    const stale = podRegistration("prod", p, "catalog", 7070);
    const plan = decidePodSync(input({ seen: [{ cluster: "eu1", pods: [p] }], current: [...registered(p), stale] }));
    assert.deepEqual(plan.steps.map(formatPodStep), ["deregister  catalog/shop.p1-7070 10.1.0.7:7070: pod shop/p1 on eu1 no longer serves catalog on port 7070"]);
  });
});

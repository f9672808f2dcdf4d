// Registry drift of pod instances: a pod sync's plan as drift items, in the app's row on its cluster.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatRegistryDrift, podRegistryDrift } from "../../src/health/index.js";
import type { PodInfo } from "../../src/model/index.js";
import { decidePodSync, podRegistrations } from "../../src/pod-sync/index.js";
import { fixtureApps, fixtureEnvironment } from "../support/model-fixture.js";

const apps = fixtureApps();
const env = fixtureEnvironment(apps);
const pod = (name: string, over: Partial<PodInfo> = {}): PodInfo => ({
  cluster: "eu1", namespace: "shop", name, app: "user", env: "prod", ip: "10.1.0.7", ready: true, image: "registry.example.com/shop/user:1.4.2", version: null, ...over,
});

describe("podRegistryDrift", () => {
  it("names a ready pod missing, a registration of a gone or unready pod, and a wrong address, version or check", () => {
    const ready = pod("ready");
    const moved = pod("moved", { ip: "10.1.0.9" });
    const older = pod("older");
    const unready = pod("unready");
    const [movedReg] = podRegistrations(env, apps, [{ ...moved, ip: "10.1.0.1" }]);
    const [olderReg] = podRegistrations(env, apps, [{ ...older, image: "registry.example.com/shop/user:1.4.1" }]);
    const current = [
      { ...movedReg!, check: "critical" as const },
      olderReg!,
      ...podRegistrations(env, apps, [unready, pod("gone")]),
    ];
    const plan = decidePodSync({ env, apps, seen: [{ cluster: "eu1", pods: [ready, moved, older, { ...unready, ready: false }] }], unreadable: [], current, pruneRemovedClusters: true });
    const drift = podRegistryDrift(plan);
    assert.deepEqual(drift.map(formatRegistryDrift), [
      "unexpected  user/shop.gone-8091: registered in Consul (10.1.0.7:8091) but pod shop/gone on eu1 is gone",
      "address     user/shop.moved-8091: address 10.1.0.1 in Consul, pod shop/moved has 10.1.0.9",
      "critical    user/shop.moved-8091: check is critical in Consul, pod shop/moved is ready",
      "version     user/shop.older-8091: version 1.4.1 in Consul, pod shop/older runs 1.4.2",
      "missing     user/shop.ready-8091: pod shop/ready is ready but not registered in Consul (want 10.1.0.7:8091)",
      "unexpected  user/shop.unready-8091: registered in Consul (10.1.0.7:8091) but pod shop/unready on eu1 is not ready",
    ]);
    assert.deepEqual(drift[0]!.row, { app: "user", runtime: "k8s", target: "eu1" });
  });

  it("is empty when the registry matches the ready pods", () => {
    const p = pod("p");
    const plan = decidePodSync({ env, apps, seen: [{ cluster: "eu1", pods: [p] }], unreadable: [], current: podRegistrations(env, apps, [p]), pruneRemovedClusters: true });
    assert.deepEqual(podRegistryDrift(plan), []);
  });
});

// Deployment health (pure): the Argo CD / kstatus rules on status counts, generations and conditions.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HEALTH_ORDER, deploymentHealth, objectHealth, worst } from "../../src/health/index.js";
import type { K8sObject } from "../../src/model/index.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const OPTS = { progressTimeoutMs: 120_000 };

function deployment(o: { generation?: number; replicas?: number; paused?: boolean; status?: Record<string, unknown> }): K8sObject {
  const spec: Record<string, unknown> = {};
  if (o.replicas !== undefined) spec.replicas = o.replicas;
  if (o.paused) spec.paused = true;
  return { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "shop", generation: o.generation ?? 2 }, spec, status: o.status ?? {} } as K8sObject;
}

const counts = (replicas: number, updated: number, ready: number, available: number) => ({
  observedGeneration: 2, replicas, updatedReplicas: updated, readyReplicas: ready, availableReplicas: available,
});

const cond = (type: string, status: string, reason: string, at: string, message = "") => ({ type, status, reason, message, lastTransitionTime: at });

describe("deploymentHealth", () => {
  const cases: [string, K8sObject | undefined, string, string | RegExp][] = [
    ["deployment-missing", undefined, "missing", "not found"],
    ["deployment-healthy", deployment({ replicas: 3, status: counts(3, 3, 3, 3) }), "healthy", "3/3 available"],
    ["deployment-scaled-to-zero", deployment({ replicas: 0, status: { observedGeneration: 2 } }), "healthy", "0/0 available"],
    ["deployment-default-one-replica", deployment({ status: counts(1, 1, 1, 1) }), "healthy", "1/1 available"],
    ["deployment-generation-not-observed", deployment({ replicas: 3, status: { ...counts(3, 3, 3, 3), observedGeneration: 1 } }), "progressing", "waiting for the controller to observe generation 2 (seen: 1)"],
    ["deployment-no-status-yet", deployment({ replicas: 3 }), "progressing", "waiting for the controller to observe generation 2 (seen: none)"],
    ["deployment-rolling", deployment({ replicas: 3, status: counts(3, 1, 0, 0) }), "progressing", "1/3 updated, 0 ready, 0 available"],
    ["deployment-old-replicas-terminating", deployment({ replicas: 3, status: counts(4, 3, 3, 3) }), "progressing", "3/3 updated, 3 ready, 3 available, 1 old pending termination"],
    ["deployment-not-yet-available", deployment({ replicas: 3, status: counts(3, 3, 3, 2) }), "progressing", "3/3 updated, 3 ready, 2 available"],
    ["deployment-not-ready", deployment({ replicas: 3, status: counts(3, 3, 1, 3) }), "progressing", "3/3 updated, 1 ready, 3 available"],
    [
      "deployment-progress-deadline-exceeded",
      deployment({ replicas: 3, status: { ...counts(3, 1, 0, 0), conditions: [cond("Progressing", "False", "ProgressDeadlineExceeded", "2026-03-01T11:59:00Z", 'ReplicaSet "web-1" has timed out progressing.')] } }),
      "degraded",
      'exceeded its progress deadline: ReplicaSet "web-1" has timed out progressing.',
    ],
    [
      "deployment-unavailable-past-timeout",
      deployment({ replicas: 3, status: { ...counts(3, 3, 0, 0), conditions: [cond("Available", "False", "MinimumReplicasUnavailable", "2026-03-01T11:55:00Z")] } }),
      "degraded",
      "unavailable for 300s: MinimumReplicasUnavailable",
    ],
    [
      "deployment-unavailable-within-timeout",
      deployment({ replicas: 3, status: { ...counts(3, 3, 0, 0), conditions: [cond("Available", "False", "MinimumReplicasUnavailable", "2026-03-01T11:59:30Z")] } }),
      "progressing",
      "3/3 updated, 0 ready, 0 available",
    ],
    ["deployment-paused", deployment({ replicas: 3, paused: true, status: counts(3, 1, 1, 1) }), "degraded", "rollout is paused (spec.paused)"],
  ];
  for (const [name, obj, health, message] of cases) {
    it(name, () => {
      const got = deploymentHealth(obj, NOW, OPTS);
      assert.equal(got.health, health);
      if (typeof message === "string") assert.equal(got.message, message);
      else assert.match(got.message, message);
    });
  }
});

describe("objectHealth and worst", () => {
  it("counts a Service or ConfigMap healthy when it exists, missing when not", () => {
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name: "web" } } as K8sObject;
    assert.deepEqual(objectHealth("Service", svc, NOW, OPTS), { health: "healthy", message: "exists" });
    assert.deepEqual(objectHealth("ConfigMap", undefined, NOW, OPTS), { health: "missing", message: "not found" });
    assert.equal(objectHealth("Deployment", deployment({ replicas: 1, status: counts(1, 1, 1, 1) }), NOW, OPTS).health, "healthy");
  });

  it("picks the worst health in HEALTH_ORDER; none is healthy", () => {
    assert.deepEqual([...HEALTH_ORDER], ["healthy", "progressing", "missing", "degraded", "unknown"]);
    assert.equal(worst([]), "healthy");
    assert.equal(worst(["healthy", "progressing", "healthy"]), "progressing");
    assert.equal(worst(["missing", "degraded", "progressing"]), "degraded");
    assert.equal(worst(new Set(["unknown", "healthy"] as const)), "unknown");
  });
});

// One prod environment with a bit of every kind of drift, for the report tests and golden files. Desired is
// rendered from the model fixture (billing also placed on a third host, vm-3); actual is built from it:
//   user     eu1: image 1.4.1 live (want 1.4.2), rollout progressing (1/3 updated)
//   catalog  eu1: in sync and healthy; vm-1: process stopped, checks critical; vm-2: port 9090 registered as 9091
//   billing  vm-1: 2.2.0 live (version, sha, env incl. the secret DB_PASSWORD); vm-2: in sync;
//            vm-3: host unreachable and not registered in Consul
//   web      eu1: the secret SESSION_KEY differs (its digest on the Secret and the pod template)
//   report   removed from the config: its Deployment is still in eu1 and its registration in Consul
//   (host)   vm-2's capture rules are gone
import { render } from "../../src/render/index.js";
import { diff } from "../../src/diff/index.js";
import { buildPlan } from "../../src/plan/index.js";
import { sealSecrets } from "../../src/config/secrets.js";
import { SECRET_DIGEST_ANNOTATION, plainDigestKey, secretToken } from "../../src/model/index.js";
import type { ActualResource, ActualState, DesiredState, Json, K8sObject, Model, Plan, Registration, Resource } from "../../src/model/index.js";
import { buildDriftReport, type DriftReport } from "../../src/report/index.js";
import { fixtureEnvironment, modelFixture } from "../support/model-fixture.js";
import { OLD_SECRET_VALUE, SECRET_VALUE, clone } from "../support/resources-fixture.js";

export const REVISION = "3f1a9c0d2b7e4f6a8c1d3e5f7a9b0c2d4e6f8a1b";
export const NOW = new Date("2026-01-02T03:04:05Z");
/** The secret values the scenario's desired and actual states hold; no report format may contain them. */
export const SECRETS = ["hunter2", SECRET_VALUE, "dev-only-not-a-real-key", OLD_SECRET_VALUE];

/** The fixture model with a third host (vm-3) that billing is also placed on. */
export function scenarioModel(): Model {
  const model = modelFixture();
  const env = fixtureEnvironment(model.apps);
  env.hostGroups[0]!.hosts.push({ name: "vm-3", address: "10.20.0.13", baseDir: "/opt/amphi" });
  for (const p of env.placements) if (p.type === "hostGroup" && p.app === "billing") p.hosts = ["vm-1", "vm-2", "vm-3"];
  // As loading does: secret values become their tokens (issue 13), so the desired state holds no plaintext.
  sealSecrets(env, null);
  return { ...model, environments: [env] };
}

/** Desired state of the scenario. */
export function scenarioDesired(): DesiredState {
  return render(scenarioModel(), "prod");
}

/** Actual state of the scenario (see the file comment). */
export function scenarioActual(desired = scenarioDesired()): ActualState {
  const resources: ActualResource[] = [];
  for (const d of desired.resources) {
    const a = changed(clone(d));
    if (a) resources.push(a);
  }
  resources.push(rollout(reportDeployment(), 2, 2), unexpectedRegistration());
  const unreachable = [{ runtime: "vm" as const, target: "legacy/vm-3", reason: "ssh 10.20.0.13:22: connect timed out after 10s" }];
  return { env: "prod", observedAt: NOW.toISOString(), resources: resources.sort((a, b) => (a.key < b.key ? -1 : 1)), unreachable };
}

function changed(r: Resource): ActualResource | null {
  switch (r.runtime) {
    case "k8s":
      return k8sActual(r);
    case "vm": {
      if (r.target === "legacy/vm-3") return null;
      const a: ActualResource = { ...r, observed: { process: r.key === "vm/legacy/vm-1/catalog" ? "stopped" : "running" } };
      if (r.key === "vm/legacy/vm-1/billing") {
        Object.assign(a.instance, { version: "2.2.0", sha256: "0".repeat(64) });
        a.instance.environment = { ...a.instance.environment, APP_VERSION: "2.2.0", DB_PASSWORD: SECRET_VALUE };
      }
      return a;
    }
    case "capture":
      return r.target === "legacy/vm-2" ? null : r;
    case "sidecar":
      return r;
    case "consul": {
      if (r.registration.host === "vm-3") return null;
      if (r.registration.id === "catalog-vm-2-9090") r.registration.port = 9091;
      return { ...r, observed: { check: r.registration.host === "vm-1" && r.app === "catalog" ? "critical" : "passing" } };
    }
    case "mesh":
      return r;
  }
}

function k8sActual(r: Extract<Resource, { runtime: "k8s" }>): ActualResource {
  const o = r.object as K8sObject & { spec?: any };
  if (r.app === "web" && (o.kind === "Deployment" || o.kind === "Secret")) {
    // The secret changed since: the live objects carry the digest of the old value (and the Secret its data).
    const annotations = o.kind === "Deployment" ? o.spec.template.metadata.annotations : o.metadata.annotations!;
    annotations[SECRET_DIGEST_ANNOTATION] = secretToken(plainDigestKey("prod"), OLD_SECRET_VALUE);
    if (o.kind === "Secret") o["data"] = { SESSION_KEY: Buffer.from(OLD_SECRET_VALUE).toString("base64") };
  }
  if (o.kind !== "Deployment") return r;
  const containers = o.spec.template.spec.containers as { name: string; image: string; env?: { name: string; value: string }[] }[];
  if (r.app === "user") {
    containers[0]!.image = "registry.example.com/shop/user:1.4.1";
    return rollout(r, 3, 1, "2026-01-02T03:00:00Z");
  }
  return rollout(r, Number(o.spec.replicas), Number(o.spec.replicas));
}

/** The Deployment as the API server reports it: generation observed, `updated` of `replicas` rolled out. */
function rollout<R extends Extract<Resource, { runtime: "k8s" }>>(r: R, replicas: number, updated: number, unavailableSince?: string): R {
  const o = r.object;
  o.metadata["generation"] = 4;
  const conditions: Json[] = unavailableSince
    ? [{ type: "Available", status: "False", lastTransitionTime: unavailableSince, reason: "MinimumReplicasUnavailable" }]
    : [{ type: "Available", status: "True" }];
  o["status"] = { observedGeneration: 4, replicas, updatedReplicas: updated, readyReplicas: updated, availableReplicas: updated, conditions };
  return r;
}

function reportDeployment(): Extract<Resource, { runtime: "k8s" }> {
  const labels = { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": "report", "amphi.dev/env": "prod" };
  const object: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "report", namespace: "shop", labels },
    spec: { replicas: 2, template: { spec: { containers: [{ name: "app", image: "registry.example.com/shop/report:0.9.0" }] } } },
  };
  return { runtime: "k8s", key: "k8s/eu1/Deployment/shop/report", app: "report", target: "eu1", object };
}

function unexpectedRegistration(): ActualResource {
  const id = "report-vm-1-9300";
  const registration: Registration = {
    id,
    service: "report",
    app: "report",
    env: "prod",
    host: "vm-1",
    address: "10.20.0.11",
    port: 9300,
    tags: ["amphi", "env:prod", "app:report", "version:0.9.0"],
    meta: { "amphi-app": "report", "amphi-env": "prod", "amphi-host": "vm-1" },
    check: { checkId: `service:${id}`, ttl: "15s", deregisterCriticalServiceAfter: "5m", notes: "" },
  };
  return { runtime: "consul", key: `consul/report/${id}`, app: "report", target: "legacy/vm-1", registration, observed: { check: "passing" } };
}

/** The up-to-date twin of `desired`: actual = desired, with processes running, checks passing and Deployments
 * rolled out (`over` adds fields, e.g. proxies). */
export function inSyncActual(desired: DesiredState, over: Partial<ActualState> = {}): ActualState {
  return {
    env: desired.env,
    observedAt: NOW.toISOString(),
    unreachable: [],
    resources: desired.resources.map((r) => {
      const a = clone(r);
      if (a.runtime === "vm") return { ...a, observed: { process: "running" as const } };
      if (a.runtime === "consul") return { ...a, observed: { check: "passing" as const } };
      if (a.runtime === "k8s" && a.object.kind === "Deployment") {
        const n = Number((a.object["spec"] as { replicas: number }).replicas);
        a.object["status"] = { replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n };
      }
      return a;
    }),
    ...over,
  };
}

/** The plan of desired × actual, as `amphi plan` makes it. */
export function scenarioPlan(desired: DesiredState, actual: ActualState): Plan {
  const model = scenarioModel();
  const deps = Object.fromEntries(model.apps.map((a) => [a.name, a.dependsOn]));
  return buildPlan(diff(desired, actual, { ignore: [] }), deps, REVISION);
}

/** The scenario's report. */
export function scenarioReport(): DriftReport {
  const desired = scenarioDesired();
  const actual = scenarioActual(desired);
  return buildDriftReport({ desired, actual, plan: scenarioPlan(desired, actual), revision: REVISION, now: NOW });
}

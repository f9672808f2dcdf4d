// Hand-built desired and actual resources for the diff and plan tests (no loader or render involved):
// a Deployment and a Service as render would write them, the same objects as the API server returns them
// (defaults, status, managedFields), a host instance, a host's capture rules, a Consul registration.
import {
  SECRET_ENV_ANNOTATION,
  type ActualResource,
  type ActualState,
  type CaptureRules,
  type DesiredState,
  type HostInstance,
  type Json,
  type K8sObject,
  type Registration,
  type Resource,
  type UnreachableTarget,
} from "../../src/model/index.js";

/** A secret env value: tests assert that it appears in no change and no formatted plan. */
export const SECRET_VALUE = "hunter2-never-print-me";
/** A second secret value, for the "changed from one secret to another" case. */
export const OLD_SECRET_VALUE = "old-hunter1-never-print-me";

/** Two package hashes: the "before" and "after" of a version bump. */
export const SHA_A = "5d3785d58a3190c6e18aaffeb33c4e9819aaead6bf79fb0841985274d623d2f4";
export const SHA_B = "9a0b1c2d58a3190c6e18aaffeb33c4e9819aaead6bf79fb0841985274d623d2f5";

/** A deep copy, so a test can change the actual side without touching the desired one. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** A Kubernetes resource (the k8s member of the Resource union). */
export type K8sResource = Extract<Resource, { runtime: "k8s" }>;
type EnvVar = { name: string; value: string };

/** Options of {@link deployment}. */
export interface DeploymentOptions {
  app: string;
  cluster?: string;
  namespace?: string;
  image?: string;
  replicas?: number;
  env?: EnvVar[];
  secretEnv?: string[];
}

/** A Deployment as render writes it: app container + sidecar, capture init container, labels, annotations. */
export function deployment(o: DeploymentOptions): K8sResource {
  const ns = o.namespace ?? "shop";
  const labels = { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": o.app, "amphi.dev/env": "prod" };
  const annotations: Record<string, string> = { "amphi.dev/spec-hash": SHA_A };
  const podAnnotations = o.secretEnv?.length ? { ...annotations, [SECRET_ENV_ANNOTATION]: o.secretEnv.join(",") } : annotations;
  const object: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: o.app, namespace: ns, labels, annotations },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { "amphi.dev/app": o.app, "amphi.dev/env": "prod" } },
      template: {
        metadata: { labels, annotations: podAnnotations },
        spec: {
          initContainers: [{ name: "amphi-init", image: "amphi/init:1", args: ["-p", "15001", "-z", "15006", "-u", "1337"] }],
          containers: [
            {
              name: "app",
              image: o.image ?? `registry.example.com/shop/${o.app}:1.0.0`,
              ports: [{ name: "http", containerPort: 8080 }],
              env: (o.env ?? []) as Json,
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: 1 } },
            },
            { name: "sidecar", image: "envoyproxy/envoy:v1.31.2", securityContext: { runAsUser: 1337 } },
          ],
        },
      },
    },
  };
  return { runtime: "k8s", key: `k8s/${o.cluster ?? "eu1"}/Deployment/${ns}/${o.app}`, app: o.app, target: o.cluster ?? "eu1", object };
}

/** A Service as render writes it. */
export function service(app: string, cluster = "eu1", namespace = "shop"): K8sResource {
  const object: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: app, namespace, labels: { "app.kubernetes.io/managed-by": "amphi", "amphi.dev/app": app } },
    spec: { selector: { "amphi.dev/app": app }, ports: [{ name: "http", port: 8080, targetPort: 8080 }] },
  };
  return { runtime: "k8s", key: `k8s/${cluster}/Service/${namespace}/${app}`, app, target: cluster, object };
}

/** The object as the API server returns it: server metadata, status, managedFields and defaulted fields. */
export function live(r: K8sResource): K8sResource {
  const out = clone(r);
  const o = out.object as any;
  Object.assign(o.metadata, {
    uid: "0b4c1f5e-6c1d-4c57-9a35-2f4ad5f0b8e1",
    resourceVersion: "912345",
    generation: 7,
    creationTimestamp: "2026-01-02T03:04:05Z",
    managedFields: [{ manager: "amphi", operation: "Apply", fieldsV1: { "f:spec": {} } }],
  });
  o.metadata.annotations = { ...o.metadata.annotations, "deployment.kubernetes.io/revision": "7" };
  if (o.kind === "Deployment") {
    Object.assign(o.spec, { progressDeadlineSeconds: 600, revisionHistoryLimit: 10, strategy: { type: "RollingUpdate" } });
    Object.assign(o.spec.template.spec, { restartPolicy: "Always", dnsPolicy: "ClusterFirst", schedulerName: "default-scheduler" });
    for (const c of [...o.spec.template.spec.containers, ...o.spec.template.spec.initContainers]) {
      Object.assign(c, { imagePullPolicy: "IfNotPresent", terminationMessagePath: "/dev/termination-log" });
      for (const p of c.ports ?? []) p.protocol = "TCP";
    }
    o.spec.template.spec.containers[0].resources.limits.cpu = "1"; // the server returns quantities as strings
    o.status = { replicas: 2, readyReplicas: 2, observedGeneration: 7, conditions: [{ type: "Available", status: "True" }] };
  } else {
    Object.assign(o.spec, { clusterIP: "10.96.12.34", clusterIPs: ["10.96.12.34"], type: "ClusterIP", sessionAffinity: "None" });
    for (const p of o.spec.ports) p.protocol = "TCP";
    o.status = { loadBalancer: {} };
  }
  return out;
}

/** Options of {@link hostInstance}. */
export interface HostOptions {
  app: string;
  host?: string;
  version?: string;
  sha256?: string;
  environment?: Record<string, string>;
  secretEnv?: string[];
}

/** A host instance on `legacy/<host>`. */
export function hostInstance(o: HostOptions): Extract<Resource, { runtime: "vm" }> {
  const host = o.host ?? "vm-2";
  const version = o.version ?? "2.3.0";
  const instance: HostInstance = {
    app: o.app,
    env: "prod",
    hostGroup: "legacy",
    host,
    address: "10.20.0.12",
    baseDir: "/opt/amphi",
    version,
    package: { path: `packages/${o.app}-${version}.tar.gz` },
    sha256: o.sha256 ?? SHA_A,
    start: `node server.mjs 9100 ${o.app}`,
    user: null,
    environment: o.environment ?? { APP_VERSION: version },
    secretEnv: o.secretEnv ?? [],
    ports: [{ name: "http-9100", port: 9100, protocol: "http" }],
    health: { path: "/health", port: 9100 },
    services: [o.app],
    specHash: SHA_B,
    registrations: [`${o.app}-${host}-9100`],
  };
  return { runtime: "vm", key: `vm/legacy/${host}/${o.app}`, app: o.app, target: `legacy/${host}`, instance };
}

/** The capture rules of `legacy/<host>` redirecting the given apps' ports. */
export function capture(host = "vm-2", apps: { app: string; ports: number[] }[] = [{ app: "billing", ports: [9100] }]): Resource {
  const lines = ["*nat", ":AMPHI_INBOUND - [0:0]", ":AMPHI_OUTPUT - [0:0]"];
  for (const a of apps) for (const p of a.ports) lines.push(`-A AMPHI_INBOUND -p tcp --dport ${p} -j REDIRECT --to-ports 15006`);
  lines.push("-A AMPHI_OUTPUT -d 10.255.0.1/32 -p tcp -j REDIRECT --to-ports 15001", "COMMIT", "");
  const rules: CaptureRules = {
    hostGroup: "legacy",
    host,
    inbound: apps,
    fragment: lines.join("\n"),
    hooks: [{ table: "nat", chain: "PREROUTING", rule: "-p tcp -j AMPHI_INBOUND" }],
  };
  return { runtime: "capture", key: `capture/legacy/${host}`, app: null, target: `legacy/${host}`, capture: rules };
}

/** The Consul registration of `<app>` on `legacy/<host>` port 9100. */
export function registration(app: string, host = "vm-2", version = "2.3.0"): Resource {
  const id = `${app}-${host}-9100`;
  const reg: Registration = {
    id,
    service: app,
    app,
    env: "prod",
    host,
    address: "10.20.0.12",
    port: 9100,
    tags: ["amphi", `version-${version}`],
    meta: { app, env: "prod", host, version },
    check: { checkId: `service:${id}`, ttl: "15s", deregisterCriticalServiceAfter: "5m", notes: "health reporter" },
  };
  return { runtime: "consul", key: `consul/${app}/${id}`, app, target: `legacy/${host}`, registration: reg };
}

/** A desired state of env prod. */
export function desiredState(resources: Resource[]): DesiredState {
  return { env: "prod", resources };
}

/** An actual state of env prod. */
export function actualState(resources: ActualResource[], unreachable: UnreachableTarget[] = []): ActualState {
  return { env: "prod", observedAt: "2026-01-02T03:04:05Z", resources, unreachable };
}

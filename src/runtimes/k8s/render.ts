// Kubernetes objects of one cluster placement: the app's Secret when it has secret env (secret.ts), the sidecar's bootstrap ConfigMap, a Service per service of the
// app and one Deployment (app container, amphi-proxy sidecar, and the amphi-init capture container when capture is on).
// Objects are typed with kubernetes-types while built, so a misspelt field fails the type check.
import type { Deployment } from "kubernetes-types/apps/v1.js";
import type { Service, ServicePort } from "kubernetes-types/core/v1.js";
import {
  appPorts,
  LABELS,
  SECRET_DIGEST_ANNOTATION,
  VERSION_ANNOTATION,
  SECRET_ENV_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  type AppModel,
  type ClusterPlacement,
  type EnvironmentModel,
  type K8sObject,
  type PortModel,
  type Protocol,
  type ServiceModel,
} from "../../model/index.js";
import { compareStrings } from "../../model/index.js";
import type { RenderHook, ResourceOf } from "../types.js";
import { podSpec } from "./pod.js";
import { CAPTURE_RULES_FILE, PROXY_CONFIG_ANNOTATION, PROXY_CONFIG_FILE, proxyBootstrap, proxyConfigDigest, proxyConfigMap, proxyConfigMapName } from "./proxy.js";
import { podCaptureRules } from "./capture.js";
import { secretDigest, secretObject } from "./secret.js";

/** The resource key of a Kubernetes object: `k8s/<cluster>/<Kind>/<namespace>/<name>`. */
export function k8sKey(cluster: string, kind: string, namespace: string, name: string): string {
  return `k8s/${cluster}/${kind}/${namespace}/${name}`;
}

/** The labels selecting an app's pods in one environment. Deliberately only these two: a Deployment's
 * `spec.selector` is immutable, so anything that changes with a release (version, spec hash) must stay out. */
export function selectorLabels(app: string, env: string): Record<string, string> {
  return { [LABELS.app]: app, [LABELS.env]: env };
}

/** The labels on every object amphi renders; `kubectl get -l app.kubernetes.io/managed-by=amphi` finds them. */
export function objectLabels(app: string, env: string): Record<string, string> {
  return { [LABELS.managedBy]: "amphi", [LABELS.name]: app, ...selectorLabels(app, env) };
}

/** The k8s render hook: the objects of every cluster placement. */
export const renderK8s: RenderHook<"k8s"> = ({ env, clusters }) => clusters.flatMap(({ app, placement }) => renderClusterPlacement(app, env, placement));

/** The sidecar's ConfigMap (bootstrap, and the capture rules amphi-init applies when capture is on), the Service
 * objects and the Deployment of one cluster placement, as resources of runtime `k8s`. */
function renderClusterPlacement(app: AppModel, env: EnvironmentModel, placement: ClusterPlacement): ResourceOf<"k8s">[] {
  const bootstrap = proxyBootstrap(env.mesh, env.name, app.name);
  const rules = env.mesh.capture ? podCaptureRules(env.mesh, env.name, app.name, appPorts(app).map((p) => p.targetPort)) : null;
  const data = { [PROXY_CONFIG_FILE]: bootstrap, ...(rules !== null ? { [CAPTURE_RULES_FILE]: rules } : {}) };
  const config = proxyConfigMap(proxyConfigMapName(app.name), placement.namespace, objectLabels(app.name, env.name), data);
  const services = app.services.map((s) => resource(placement, service(app, env, placement, s)));
  const secret = secretObject(app, env, placement, objectLabels(app.name, env.name));
  return [...(secret ? [resource(placement, secret)] : []), resource(placement, config), ...services, resource(placement, deployment(app, env, placement, proxyConfigDigest(bootstrap, rules)))];
}

function resource(placement: ClusterPlacement, object: K8sObject): ResourceOf<"k8s"> {
  const { kind, metadata } = object;
  const key = k8sKey(placement.cluster, kind, metadata.namespace ?? placement.namespace, metadata.name);
  return { runtime: "k8s", key, app: placement.app, target: placement.cluster, object };
}

// The spec hash is the app's own specHash, unchanged, on the Deployment and the Services (not on the pod
// template). Why not mix in placement inputs (image override, replicas, env): those are fields the diff
// compares one by one anyway, and one value per app lets a reader match a pod, a VM instance and a Consul
// registration to the same spec. Why not on the pod template: a change that does not touch the pod (a VM
// package, a port of another runtime) must not roll the pods; the fields that do touch it change the
// template themselves. The diff ignores the annotation (it is derived from fields it compares).
function metadata(app: AppModel, env: EnvironmentModel, placement: ClusterPlacement, name: string) {
  return {
    name,
    namespace: placement.namespace,
    labels: objectLabels(app.name, env.name),
    annotations: { [SPEC_HASH_ANNOTATION]: app.specHash },
  };
}

function service(app: AppModel, env: EnvironmentModel, placement: ClusterPlacement, svc: ServiceModel): K8sObject {
  const object: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(app, env, placement, svc.name),
    spec: { selector: selectorLabels(app.name, env.name), ports: svc.ports.map(servicePort) },
  };
  return toK8sObject(object);
}

function servicePort(port: PortModel): ServicePort {
  const appProtocol = APP_PROTOCOL[port.protocol];
  return {
    name: port.name,
    protocol: "TCP",
    ...(appProtocol ? { appProtocol } : {}),
    port: port.targetPort,
    targetPort: port.targetPort,
  };
}

// `appProtocol` tells load balancers, gateways and meshes how to speak to the port. gRPC is
// `kubernetes.io/h2c` (cleartext HTTP/2), the value Kubernetes itself defines and Gateway API implementations
// understand; plain "grpc" is only known to some meshes. Raw TCP gets none: "tcp" is not a registered
// application protocol, and no value means an opaque byte stream.
const APP_PROTOCOL: Record<Protocol, string | null> = {
  http: "http",
  grpc: "kubernetes.io/h2c",
  tcp: null,
};

function deployment(app: AppModel, env: EnvironmentModel, placement: ClusterPlacement, proxyDigest: string): K8sObject {
  const meta = metadata(app, env, placement, app.name);
  const object: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta,
    spec: {
      replicas: placement.container.replicas,
      selector: { matchLabels: selectorLabels(app.name, env.name) },
      template: {
        // The bootstrap's digest: a ConfigMap change alone would not restart the sidecars that read it at start.
        metadata: { labels: meta.labels, annotations: { [PROXY_CONFIG_ANNOTATION]: proxyDigest, ...secretEnvAnnotation(placement), ...versionAnnotation(placement) } },
        spec: podSpec(app, env, placement.container),
      },
    },
  };
  return toK8sObject(object);
}

// The version the pods run when the app or placement names one (the pod sync reads it back from each pod).
function versionAnnotation(placement: ClusterPlacement): Record<string, string> {
  return placement.container.version === undefined ? {} : { [VERSION_ANNOTATION]: placement.container.version };
}

// The names (never the values) of the container's secret env vars, so the diff can mask their values in
// every change it prints, for desired and live objects alike.
// With them, the keyed digest of their values (secret.ts): a changed value rolls the pods, which read it at start.
function secretEnvAnnotation(placement: ClusterPlacement): Record<string, string> {
  const names = [...new Set(placement.container.env.filter((e) => e.secret).map((e) => e.name))].sort(compareStrings);
  const digest = secretDigest(placement.container);
  return names.length > 0 ? { [SECRET_ENV_ANNOTATION]: names.join(","), ...(digest ? { [SECRET_DIGEST_ANNOTATION]: digest } : {}) } : {};
}

// What a JSON round trip gives, without the text in between (the round trip was 3 % of a 10,000-app plan, and
// more in garbage): drops any `undefined` left by optional fields (which would break YAML output and equality
// in the diff) and unshares the label objects reused above. The objects are plain data (strings, numbers,
// booleans, arrays, plain objects), so nothing else of JSON's mapping applies.
function toK8sObject(object: Service | Deployment): K8sObject {
  return plainCopy(object) as K8sObject;
}

function plainCopy(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : plainCopy(v)));
  const out: Record<string, unknown> = {};
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined && Object.hasOwn(value, k)) out[k] = plainCopy(v);
  }
  return out;
}

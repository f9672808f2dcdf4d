// The pod of an app's Deployment: the app container, the amphi-proxy sidecar, and amphi-init when the
// environment captures traffic. amphi-init applies the same capture fragment as the VM hosts get (capture.ts),
// from the app's amphi-proxy ConfigMap, with the real `iptables-restore`.
import { containerEnv } from "./secret.js";
import type { Container, PodSpec, Probe, ResourceRequirements } from "kubernetes-types/core/v1.js";
import { appPorts, firstHealthCheck, sidecarNodeId, type AppModel, type ContainerModel, type EnvironmentModel, type MeshModel } from "../../model/index.js";
import { POD_IPTABLES_RESTORE } from "./capture.js";
import { CAPTURE_RULES_FILE, PROXY_CONFIG_DIR, PROXY_CONFIG_FILE, PROXY_CONFIG_VOLUME, proxyConfigMapName } from "./proxy.js";

/** Container names amphi uses in every pod; the app's is first so `kubectl logs deploy/<app>` shows the app. */
export const CONTAINER_NAMES = { app: "app", proxy: "amphi-proxy", init: "amphi-init" } as const;

/** Where the sidecar reads its Envoy bootstrap: the app's `amphi-proxy-<app>` ConfigMap (proxy.ts), mounted read-only. */
export const PROXY_CONFIG_PATH = `${PROXY_CONFIG_DIR}/${PROXY_CONFIG_FILE}`;

/** Where amphi-init reads the pod's capture rules: the same ConfigMap, mounted read-only at the same place. */
export const CAPTURE_RULES_PATH = `${PROXY_CONFIG_DIR}/${CAPTURE_RULES_FILE}`;

/** The variable holding the pod's name (downward API) in the sidecar, for its node id. */
const POD_NAME_VAR = "POD_NAME";

/** The pod spec of an app in an environment, from the placement's effective container. */
export function podSpec(app: AppModel, env: EnvironmentModel, container: ContainerModel): PodSpec {
  return {
    ...(env.mesh.capture ? { initContainers: [initContainer(env.mesh)] } : {}),
    containers: [appContainer(app, container), proxyContainer(app, env)],
    volumes: [{ name: PROXY_CONFIG_VOLUME, configMap: { name: proxyConfigMapName(app.name) } }],
  };
}

function appContainer(app: AppModel, container: ContainerModel): Container {
  const ports = appPorts(app).map((p) => ({ name: p.name, containerPort: p.targetPort, protocol: "TCP" }));
  const probe = readinessProbe(app);
  return {
    name: CONTAINER_NAMES.app,
    image: container.image,
    ...(container.command ? { command: container.command } : {}),
    ...(container.args ? { args: container.args } : {}),
    // In the order written; the loader has merged the environment's values over the app's already.
    // Secrets by reference into the app's Secret (secret.ts), never as values.
    ...(container.env.length > 0 ? { env: containerEnv(app.name, container) } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(container.resources ? { resources: resources(container.resources) } : {}),
    ...(probe ? { readinessProbe: probe } : {}),
  };
}

function resources(model: NonNullable<ContainerModel["resources"]>): ResourceRequirements {
  const pick = (r: { cpu?: string; memory?: string } | undefined) =>
    r ? { ...(r.cpu !== undefined ? { cpu: r.cpu } : {}), ...(r.memory !== undefined ? { memory: r.memory } : {}) } : undefined;
  const requests = pick(model.requests);
  const limits = pick(model.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

function readinessProbe(app: AppModel): Probe | null {
  const first = firstHealthCheck(app);
  if (!first) return null;
  const { check } = first;
  return {
    httpGet: { path: check.path, port: check.port },
    periodSeconds: check.intervalSeconds,
    timeoutSeconds: check.timeoutSeconds,
  };
}

// The sidecar runs as the proxy uid: the capture rules exempt exactly that uid, so its own traffic is never
// redirected back to itself. It needs no privileges at all. With a control plane, Envoy's `--service-node`
// (documented: overrides the bootstrap's node id) names the pod: `sidecar~<env>~<app>~<pod name>`, the pod name
// from the downward API, expanded by the kubelet in `$(POD_NAME)`.
function proxyContainer(app: AppModel, env: EnvironmentModel): Container {
  const mesh = env.mesh;
  const node = mesh.controlPlane ? ["--service-node", sidecarNodeId({ env: env.name, app: app.name, instance: `$(${POD_NAME_VAR})` })] : [];
  return {
    name: CONTAINER_NAMES.proxy,
    image: mesh.sidecar.image,
    args: ["--config-path", PROXY_CONFIG_PATH, "--service-cluster", app.name, ...node],
    ...(mesh.controlPlane ? { env: [{ name: POD_NAME_VAR, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } }] } : {}),
    ports: [
      { name: "proxy-out", containerPort: mesh.outboundPort, protocol: "TCP" },
      { name: "proxy-in", containerPort: mesh.inboundPort, protocol: "TCP" },
    ],
    volumeMounts: [{ name: PROXY_CONFIG_VOLUME, mountPath: PROXY_CONFIG_DIR, readOnly: true }],
    securityContext: {
      runAsUser: mesh.proxyUid,
      runAsGroup: mesh.proxyUid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    },
  };
}

// amphi-init installs the pod's iptables rules and exits: `iptables-restore --noflush <rules>` (POD_IPTABLES_RESTORE
// in capture.ts says which image and why that program), the rules from the app's ConfigMap. It needs root with
// NET_ADMIN and NET_RAW in the pod's network namespace, and nothing else: every other capability is dropped.
function initContainer(mesh: MeshModel): Container {
  return {
    name: CONTAINER_NAMES.init,
    image: mesh.sidecar.initImage,
    command: [POD_IPTABLES_RESTORE],
    args: ["--noflush", CAPTURE_RULES_PATH],
    volumeMounts: [{ name: PROXY_CONFIG_VOLUME, mountPath: PROXY_CONFIG_DIR, readOnly: true }],
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    },
  };
}

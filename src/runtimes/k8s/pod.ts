// The pod of an app's Deployment: the app container, the amphi-proxy sidecar, and amphi-init when the
// environment captures traffic. The same capture rule as on VMs (src/runtimes/capture/render.ts), carried as
// amphi-init's args.
import { containerEnv } from "./secret.js";
import type { Container, PodSpec, Probe, ResourceRequirements } from "kubernetes-types/core/v1.js";
import { appPorts, firstHealthCheck, type AppModel, type ContainerModel, type EnvironmentModel, type MeshModel } from "../../model/index.js";
import { PROXY_CONFIG_DIR, PROXY_CONFIG_FILE, PROXY_CONFIG_VOLUME, proxyConfigMapName } from "./proxy.js";

/** Container names amphi uses in every pod; the app's is first so `kubectl logs deploy/<app>` shows the app. */
export const CONTAINER_NAMES = { app: "app", proxy: "amphi-proxy", init: "amphi-init" } as const;

/** Where the sidecar reads its Envoy bootstrap: the app's `amphi-proxy-<app>` ConfigMap (proxy.ts), mounted read-only. */
export const PROXY_CONFIG_PATH = `${PROXY_CONFIG_DIR}/${PROXY_CONFIG_FILE}`;

/** The pod spec of an app in an environment, from the placement's effective container. */
export function podSpec(app: AppModel, env: EnvironmentModel, container: ContainerModel): PodSpec {
  const ports = appPorts(app).map((p) => p.targetPort);
  return {
    ...(env.mesh.capture ? { initContainers: [initContainer(env.mesh, ports)] } : {}),
    containers: [appContainer(app, container), proxyContainer(app, env.mesh)],
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
// redirected back to itself. It needs no privileges at all.
function proxyContainer(app: AppModel, mesh: MeshModel): Container {
  return {
    name: CONTAINER_NAMES.proxy,
    image: mesh.sidecar.image,
    args: ["--config-path", PROXY_CONFIG_PATH, "--service-cluster", app.name],
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

// amphi-init installs the pod's iptables rules and exits. It needs root with NET_ADMIN and NET_RAW in the pod's
// network namespace, and nothing else: every other capability is dropped.
function initContainer(mesh: MeshModel, ports: number[]): Container {
  return {
    name: CONTAINER_NAMES.init,
    image: mesh.sidecar.initImage,
    args: podCaptureArgs(mesh, ports),
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
    },
  };
}

/** The amphi-init container's args for a pod, in the spirit of istio-init: `-p` outbound port, `-z` inbound
 * port, `-u` proxy uid (excluded), `-m REDIRECT`, `-i` the only outbound CIDR captured, `-b` inbound ports. */
export function podCaptureArgs(mesh: MeshModel, appPorts: number[]): string[] {
  const ports = [...new Set(appPorts)].sort((a, b) => a - b);
  return [
    "-p", String(mesh.outboundPort),
    "-z", String(mesh.inboundPort),
    "-u", String(mesh.proxyUid),
    "-m", "REDIRECT",
    "-i", `${mesh.serviceIP}/32`,
    "-b", ports.join(","),
    "--dns-port", String(mesh.dnsPort),
  ];
}

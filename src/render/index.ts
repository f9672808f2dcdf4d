// render: a validated Model and an environment name in, that environment's DesiredState out: Kubernetes
// objects per cluster placement, host instances per host, capture rules per host, Consul registrations.
// Pure and deterministic: no clock, no randomness, no I/O; resources sorted by key.
import { compareStrings, findEnvironment, type AppModel, type DesiredState, type EnvironmentModel, type HostInstance, type Model, type Resource } from "../model/index.js";
import { hostCapture } from "./capture.js";
import { appIndex, findApp } from "./common.js";
import { consulKey, registrations } from "./consul.js";
import { hostInstances, hostTarget, vmKey } from "./host.js";
import { renderClusterPlacement } from "./k8s.js";

export { renderFiles, type RenderedFile } from "./files.js";

/** Renders the desired state of one environment. Throws an InputError naming the environment and the known
 * ones when `envName` is unknown, and an Error naming the subject when two resources would share a key. */
export function render(model: Model, envName: string): DesiredState {
  const env = findEnvironment(model, envName);
  const apps = appIndex(model);
  const resources = [...clusterResources(apps, env), ...hostResources(apps, env)];
  return { env: env.name, resources: sortUnique(resources) };
}

function clusterResources(apps: Map<string, AppModel>, env: EnvironmentModel): Resource[] {
  return env.placements.flatMap((p) => {
    if (p.type !== "cluster") return [];
    if (!env.clusters.some((c) => c.name === p.cluster)) {
      throw new Error(`env ${env.name}: app ${p.app} is placed on unknown cluster "${p.cluster}"`);
    }
    return renderClusterPlacement(findApp(apps, p.app), env, p);
  });
}

function hostResources(apps: Map<string, AppModel>, env: EnvironmentModel): Resource[] {
  const byHost = new Map<string, HostInstance[]>();
  const out: Resource[] = [];
  for (const placement of env.placements) {
    if (placement.type !== "hostGroup") continue;
    const app = findApp(apps, placement.app);
    for (const instance of hostInstances(app, env, placement)) {
      const target = hostTarget(instance.hostGroup, instance.host);
      const onHost = byHost.get(target);
      if (onHost) onHost.push(instance);
      else byHost.set(target, [instance]);
      out.push({ runtime: "vm", key: vmKey(instance.hostGroup, instance.host, app.name), app: app.name, target, instance });
      for (const registration of registrations(app, env, instance)) {
        out.push({ runtime: "consul", key: consulKey(registration.service, registration.id), app: app.name, target, registration });
      }
    }
  }
  for (const [target, instances] of byHost) checkHostPorts(target, instances);
  return env.mesh.capture ? [...out, ...captureResources(env, byHost)] : out;
}

// One capture resource per host with at least one instance: all apps of the host in one fragment.
function captureResources(env: EnvironmentModel, byHost: Map<string, HostInstance[]>): Resource[] {
  return [...byHost.values()].map((instances) => {
    const { hostGroup, host } = instances[0]!;
    const capture = hostCapture(env, hostGroup, host, instances);
    return { runtime: "capture", key: `capture/${hostGroup}/${host}`, app: null, target: hostTarget(hostGroup, host), capture };
  });
}

// Two apps listening on one port of one host cannot both start, and their capture rules would overlap:
// better to fail the render, naming both, than to deploy one of them into a crash loop.
function checkHostPorts(target: string, instances: HostInstance[]): void {
  const owner = new Map<number, string>();
  for (const instance of instances) {
    for (const { port } of instance.ports) {
      const other = owner.get(port);
      if (other !== undefined && other !== instance.app) {
        const apps = [other, instance.app].sort(compareStrings).join(" and ");
        throw new Error(`host ${target}: port ${port} is used by apps ${apps}`);
      }
      owner.set(port, instance.app);
    }
  }
}

// Sorted by key; a key rendered twice (an app placed twice on one cluster, two apps with one service name in
// a namespace) would silently lose one object, so it throws instead.
function sortUnique(resources: Resource[]): Resource[] {
  const sorted = [...resources].sort((a, b) => compareStrings(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    const [prev, cur] = [sorted[i - 1]!, sorted[i]!];
    if (prev.key === cur.key) {
      const apps = [prev.app, cur.app].filter((a) => a !== null).sort(compareStrings).join(" and ");
      throw new Error(`${cur.key} is rendered twice (from ${apps}): each object needs a unique name per target`);
    }
  }
  return sorted;
}

// render: a validated Model and an environment name in, that environment's DesiredState out. The placements
// are expanded once (cluster placements; host instances per host) and every runtime renders its resources
// from them (Kubernetes objects, host instances, capture rules, Consul registrations).
// Pure and deterministic: no clock, no randomness, no I/O; resources sorted by key.
import {
  InputError,
  appIndex,
  compareStrings,
  findApp,
  findEnvironment,
  hostTarget,
  type AppModel,
  type DesiredState,
  type EnvironmentModel,
  type Model,
  type Resource,
} from "../model/index.js";
import { RUNTIMES } from "../runtimes/index.js";
import type { HostPlacements, RenderContext } from "../runtimes/types.js";
import { hostInstances } from "./host.js";

export { RENDER_FOLDERS, renderFiles, type RenderedFile } from "./files.js";

/** Renders the desired state of one environment. Throws an InputError naming the environment and the known
 * ones when `envName` is unknown, and an Error naming the subject when two resources would share a key. */
export function render(model: Model, envName: string): DesiredState {
  const ctx = renderContext(model, envName);
  const resources = Object.values(RUNTIMES).flatMap((hooks): Resource[] => hooks.render(ctx));
  return { env: ctx.env.name, resources: sortUnique(resources) };
}

/** The environment with its placements expanded: what every runtime renders from. Throws naming the
 * placement on an unknown cluster or host group, and the host and apps when two apps share a port there. */
export function renderContext(model: Model, envName: string): RenderContext {
  const env = findEnvironment(model, envName);
  // A secrets file that cannot be read stops the environment here, before anything is planned or applied.
  if (env.secrets?.state.kind === "error") throw new InputError(env.secrets.state.message);
  const apps = appIndex(model);
  return { env, clusters: clusterPlacements(apps, env), hosts: hostPlacements(apps, env) };
}

function clusterPlacements(apps: Map<string, AppModel>, env: EnvironmentModel): RenderContext["clusters"] {
  return env.placements.flatMap((placement) => {
    if (placement.type !== "cluster") return [];
    if (!env.clusters.some((c) => c.name === placement.cluster)) {
      throw new Error(`env ${env.name}: app ${placement.app} is placed on unknown cluster "${placement.cluster}"`);
    }
    return [{ app: findApp(apps, placement.app), placement }];
  });
}

// Hosts in the order of their first instance, each with its instances in placement order.
function hostPlacements(apps: Map<string, AppModel>, env: EnvironmentModel): HostPlacements[] {
  const hosts = new Map<string, HostPlacements>();
  for (const placement of env.placements) {
    if (placement.type !== "hostGroup") continue;
    const app = findApp(apps, placement.app);
    for (const instance of hostInstances(app, env, placement)) {
      const target = hostTarget(instance.hostGroup, instance.host);
      const onHost = hosts.get(target) ?? { target, hostGroup: instance.hostGroup, host: instance.host, instances: [] };
      hosts.set(target, onHost);
      onHost.instances.push({ app, instance });
    }
  }
  for (const onHost of hosts.values()) checkHostPorts(onHost);
  return [...hosts.values()];
}

// Two apps listening on one port of one host cannot both start, and their capture rules would overlap:
// better to fail the render, naming both, than to deploy one of them into a crash loop.
function checkHostPorts({ target, instances }: HostPlacements): void {
  const owner = new Map<number, string>();
  for (const { instance } of instances) {
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

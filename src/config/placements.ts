// Placements of one environment → resolved ClusterPlacement/HostGroupPlacement (overrides applied,
// hosts expanded), with located problems for dangling references, duplicates and missing artifacts.
import { imageTag, type AppModel, type ContainerModel, type EnvironmentModel, type PackageModel, type Placement, type Problem } from "../model/index.js";
import { asWritten, mergeEnv, normalizeEnv, normalizeResources, packageSource } from "./normalize-app.js";
import type { FileLocator } from "./problems.js";
import type { RawEnvironment, RawPlacement } from "./raw.js";
import { didYouMean } from "./suggest.js";

/** The apps placements may name: every app name seen (even in files with errors) and the valid models. */
export interface AppIndex {
  names: Set<string>;
  valid: Map<string, AppModel>;
}

interface Ctx {
  env: EnvironmentModel;
  apps: AppIndex;
  loc: FileLocator;
  problems: Problem[];
  /** Placement targets already used, `cluster/namespace/app` or `group/app` → placement index. */
  seen: Map<string, number>;
}

/** Resolves the placements of one environment. Placements that cannot be resolved are left out
 * (and reported); those naming an app whose own file has errors are skipped silently. */
export function resolvePlacements(raw: RawEnvironment, env: EnvironmentModel, apps: AppIndex, loc: FileLocator): { placements: Placement[]; problems: Problem[] } {
  const ctx: Ctx = { env, apps, loc, problems: [], seen: new Map() };
  const placements: Placement[] = [];
  (raw.spec.placements ?? []).forEach((p, index) => {
    const ptr = `/spec/placements/${index}`;
    if (!apps.names.has(p.app)) {
      const hint = didYouMean(p.app, apps.names) ?? `apps: ${[...apps.names].sort().join(", ") || "none"}`;
      ctx.problems.push(loc.problem(`${ptr}/app`, `unknown app "${p.app}"`, { hint }));
      return;
    }
    const app = apps.valid.get(p.app);
    if (!app) return;
    const placed = p.hostGroup !== undefined ? hostPlacement(ctx, p, app, index) : clusterPlacement(ctx, p, app, index);
    if (placed) placements.push(placed);
  });
  return { placements, problems: ctx.problems };
}

function clusterPlacement(ctx: Ctx, p: RawPlacement, app: AppModel, index: number): Placement | null {
  const ptr = `/spec/placements/${index}`;
  const cluster = findTarget(ctx, ctx.env.clusters, p.cluster!, `${ptr}/cluster`, "cluster");
  if (!cluster) return null;
  const namespace = p.namespace ?? cluster.namespace;
  if (duplicate(ctx, `${cluster.name}/${namespace}/${app.name}`, index, `cluster "${cluster.name}", namespace "${namespace}"`, app.name)) return null;
  const container = placedContainer(ctx, p, app.container, ptr);
  if (!container) {
    const hint = `add spec.container to ${app.file} or set overrides.image here`;
    ctx.problems.push(ctx.loc.problem(ptr, `app "${app.name}" has no container image to run on cluster "${cluster.name}"`, { at: "node", hint }));
    return null;
  }
  return { type: "cluster", app: app.name, cluster: cluster.name, namespace, container, index };
}

/** The app's container with the placement's overrides and replicas; null when there is no image at all. */
function placedContainer(ctx: Ctx, p: RawPlacement, base: ContainerModel | null, ptr: string): ContainerModel | null {
  const o = p.overrides ?? {};
  const from = base ?? (o.image ? { image: o.image, replicas: 1, command: null, args: null, env: [], resources: null } : null);
  if (!from) return null;
  return {
    image: o.image ?? from.image,
    replicas: p.replicas ?? from.replicas,
    command: o.command ?? from.command,
    args: o.args ?? from.args,
    env: mergeEnv(from.env, normalizeEnv(o.env, `${ptr}/overrides/env`, ctx.loc)),
    resources: o.resources ? normalizeResources(o.resources, `${ptr}/overrides/resources`, ctx.loc) : from.resources,
    ...placedVersion(ctx, p, base, ptr),
  };
}

/** The version of a placed container: the override's; else the app's, unless the placement runs another image
 * (the app's version names the app's image, so it does not carry over: the new image's tag is the version then,
 * with a warning saying so). */
function placedVersion(ctx: Ctx, p: RawPlacement, base: ContainerModel | null, ptr: string): { version?: string } {
  const o = p.overrides ?? {};
  if (o.version !== undefined) return { version: asWritten(o.version, `${ptr}/overrides/version`, ctx.loc) };
  if (base?.version === undefined) return {};
  if (o.image === undefined || o.image === base.image) return { version: base.version };
  const hint = `set overrides.version too, or the image tag (${imageTag(o.image)}) is the version the registry and traffic splits see`;
  ctx.problems.push(ctx.loc.warning(`${ptr}/overrides/image`, `overrides the image but not the version of app "${p.app}" (container.version ${base.version})`, { hint }));
  return {};
}

function hostPlacement(ctx: Ctx, p: RawPlacement, app: AppModel, index: number): Placement | null {
  const ptr = `/spec/placements/${index}`;
  const group = findTarget(ctx, ctx.env.hostGroups, p.hostGroup!, `${ptr}/hostGroup`, "host group");
  if (!group) return null;
  const groupHosts = group.hosts.map((h) => h.name);
  const hosts = p.hosts ?? groupHosts;
  let hostsOk = true;
  hosts.forEach((h, j) => {
    const at = `${ptr}/hosts/${j}`;
    if (!groupHosts.includes(h)) {
      const hint = didYouMean(h, groupHosts) ?? `its hosts: ${groupHosts.join(", ")}`;
      ctx.problems.push(ctx.loc.problem(at, `host "${h}" is not in host group "${group.name}"`, { hint }));
      hostsOk = false;
    } else if (hosts.indexOf(h) !== j) {
      ctx.problems.push(ctx.loc.problem(at, `host "${h}" is listed twice`));
    }
  });
  if (duplicate(ctx, `${group.name}/${app.name}`, index, `host group "${group.name}"`, app.name) || !hostsOk) return null;
  const pkg = placedPackage(ctx, p, app, ptr);
  if (!pkg) return null;
  return { type: "hostGroup", app: app.name, hostGroup: group.name, hosts: [...new Set(hosts)], package: pkg, index };
}

/** The app's package with the placement's overrides; reports what is missing when there is none. */
function placedPackage(ctx: Ctx, p: RawPlacement, app: AppModel, ptr: string): PackageModel | null {
  const patch = p.overrides?.package ?? {};
  const base = app.package;
  const version = patch.version !== undefined ? asWritten(patch.version, `${ptr}/overrides/package/version`, ctx.loc) : base?.version;
  const source = packageSource(patch) ?? base?.source;
  const sha256 = patch.sha256?.toLowerCase() ?? base?.sha256;
  const start = patch.start ?? base?.start;
  if (version === undefined || source === undefined || sha256 === undefined || start === undefined) {
    const hint = `add spec.package to ${app.file} or a whole package under overrides.package here`;
    const what = base || !p.overrides?.package ? "" : ` (overrides.package lacks ${missingFields(version, source, sha256, start).join(", ")})`;
    ctx.problems.push(ctx.loc.problem(ptr, `app "${app.name}" has no package to run on host group "${p.hostGroup}"${what}`, { at: "node", hint }));
    return null;
  }
  if (base && patch.version !== undefined && patch.sha256 === undefined) {
    const hint = "a new version is a new archive: set overrides.package.sha256 (and path or url) too";
    ctx.problems.push(ctx.loc.warning(`${ptr}/overrides/package/version`, `overrides the version but not sha256 of app "${app.name}"`, { hint }));
  }
  const env = mergeEnv(base?.env ?? [], normalizeEnv(p.overrides?.env, `${ptr}/overrides/env`, ctx.loc));
  return { version, source, sha256, start, user: patch.user ?? base?.user ?? null, env };
}

function missingFields(...values: [unknown, unknown, unknown, unknown]): string[] {
  const names = ["version", "path or url", "sha256", "start"];
  return names.filter((_, i) => values[i] === undefined);
}

function duplicate(ctx: Ctx, key: string, index: number, target: string, app: string): boolean {
  const first = ctx.seen.get(key);
  if (first === undefined) {
    ctx.seen.set(key, index);
    return false;
  }
  const hint = `first placed at /spec/placements/${first}`;
  ctx.problems.push(ctx.loc.problem(`/spec/placements/${index}`, `app "${app}" is placed twice on ${target}`, { at: "node", hint }));
  return true;
}

/** The cluster or host group `name` of the environment; else null, with a problem at `ptr` naming the known ones. */
function findTarget<T extends { name: string }>(ctx: Ctx, targets: T[], name: string, ptr: string, what: string): T | null {
  const found = targets.find((t) => t.name === name);
  if (found) return found;
  const known = targets.map((t) => t.name);
  const hint = didYouMean(name, known) ?? (known.length ? `${what}s of this environment: ${known.join(", ")}` : `this environment has no ${what}s`);
  ctx.problems.push(ctx.loc.problem(ptr, `unknown ${what} "${name}"`, { hint }));
  return null;
}

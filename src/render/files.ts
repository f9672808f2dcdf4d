// Desired state as files (`amphi render --out DIR`): `clusters/<cluster>.yaml` holds plain Kubernetes objects
// that `kubectl apply -f DIR/clusters/` accepts (the rendered-manifests pattern for Argo CD or Flux users);
// `hostgroups/<group>.yaml` holds the VM side. They live in separate folders because the latter are not
// Kubernetes objects and would break a `kubectl apply -R` over the whole tree.
import { dump } from "js-yaml";
import type { DesiredState, HostInstance, K8sObject, Resource } from "../model/index.js";
import { compareStrings } from "../model/index.js";

/** One rendered file: a `/`-separated path relative to the output directory, and its text. */
export interface RenderedFile {
  path: string;
  content: string;
}

/** The apiVersion and kind of the host-group documents amphi writes. */
export const HOST_GROUP_RENDER = { apiVersion: "amphi.dev/v1", kind: "HostGroupRender" } as const;

/** Renders a desired state into files, sorted by path. Same state in, same bytes out. */
export function renderFiles(desired: DesiredState): RenderedFile[] {
  const files = [...clusterFiles(desired), ...hostGroupFiles(desired)];
  return files.sort((a, b) => compareStrings(a.path, b.path));
}

// ConfigMaps before the Deployments whose pods mount them (a pod waits for a missing one), Services before
// Deployments: a Service that exists first gets its endpoints filled as the pods come up.
const KIND_ORDER = ["ConfigMap", "Service", "Deployment"];

function clusterFiles(desired: DesiredState): RenderedFile[] {
  const byCluster = groupBy(desired.resources, (r) => (r.runtime === "k8s" ? r.target : null));
  return [...byCluster].map(([cluster, resources]) => {
    const objects = resources
      .flatMap((r) => (r.runtime === "k8s" ? [r.object] : []))
      .sort((a, b) => kindRank(a.kind) - kindRank(b.kind));
    const header = `# Rendered by amphi for environment ${desired.env}, cluster ${cluster}. Do not edit: edit the config repo.\n`;
    return { path: `clusters/${cluster}.yaml`, content: header + objects.map((o) => "---\n" + toYaml(orderTopLevel(o))).join("") };
  });
}

function kindRank(kind: string): number {
  const rank = KIND_ORDER.indexOf(kind);
  return rank === -1 ? KIND_ORDER.length : rank;
}

function hostGroupFiles(desired: DesiredState): RenderedFile[] {
  const byGroup = groupBy(desired.resources, (r) => (r.runtime === "k8s" ? null : r.target.split("/")[0]!));
  return [...byGroup].map(([group, resources]) => {
    const doc = {
      ...HOST_GROUP_RENDER,
      metadata: { name: group, env: desired.env },
      instances: resources.flatMap((r) => (r.runtime === "vm" ? [redactSecrets(r.instance)] : [])),
      // The fragment is multi-line text; js-yaml writes it as a literal block, so it reads as it will run.
      capture: resources.flatMap((r) => (r.runtime === "capture" ? [r.capture] : [])),
      registrations: resources.flatMap((r) => (r.runtime === "consul" ? [r.registration] : [])),
    };
    const header = `# Rendered by amphi for environment ${desired.env}, host group ${group}. Not a Kubernetes object.\n`;
    return { path: `hostgroups/${group}.yaml`, content: header + toYaml(doc) };
  });
}

/** What the value of a secret env var is replaced by in host-group files (as in plans). */
export const REDACTED_VALUE = "(secret)";

// Why redact: nothing runs hosts from these files (host tasks get their instance from render in memory), while
// rendered output is often committed to a manifests repo or kept as a CI artifact. A secret must not leak there.
function redactSecrets(instance: HostInstance): HostInstance {
  const secret = new Set(instance.secretEnv);
  const environment = Object.fromEntries(
    Object.entries(instance.environment).map(([name, value]) => [name, secret.has(name) ? REDACTED_VALUE : value]),
  );
  return { ...instance, environment };
}

// Groups resources (already in key order) by a name; null leaves a resource out. Groups in first-seen order,
// which is key order, and the caller sorts files by path anyway.
function groupBy(resources: Resource[], name: (r: Resource) => string | null): Map<string, Resource[]> {
  const groups = new Map<string, Resource[]>();
  for (const r of resources) {
    const n = name(r);
    if (n !== null) groups.set(n, [...(groups.get(n) ?? []), r]);
  }
  return groups;
}

// apiVersion, kind, metadata, spec first, as people write manifests; any other top-level key after them.
function orderTopLevel(object: K8sObject): Record<string, unknown> {
  const first = ["apiVersion", "kind", "metadata", "spec"].filter((k) => k in object);
  const rest = Object.keys(object).filter((k) => !first.includes(k));
  return Object.fromEntries([...first, ...rest].map((k) => [k, object[k]]));
}

// Options fixed for stable bytes: insertion order (no key sorting), no line folding, no anchors/aliases.
function toYaml(value: unknown): string {
  return dump(value, { sortKeys: false, lineWidth: -1, noRefs: true });
}

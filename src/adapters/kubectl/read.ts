// Live state of one cluster: the objects amphi manages for one environment, by label, one
// `kubectl get … -o json` per namespace (in parallel), as ActualResources keyed like rendered ones.
import { LABELS, SECRET_PLACEHOLDER, compareStrings, type ActualResource, type ClusterModel, type EnvironmentModel, type K8sObject } from "../../model/index.js";
import { k8sKey } from "../../runtimes/k8s/render.js";
import { KubectlError, firstLines } from "./errors.js";
import { runKubectl, type KubectlOptions } from "./run.js";

/** The kinds amphi renders, as kubectl resource names: every kind it may have to prune must be read. */
export const MANAGED_RESOURCES = ["deployments.apps", "services", "configmaps", "secrets"] as const;

/** A live Kubernetes object as an actual resource. */
export type K8sActual = Extract<ActualResource, { runtime: "k8s" }>;

/** Options of {@link readCluster}. */
export interface ReadClusterOptions extends KubectlOptions {
  /** Namespaces to read (default: the cluster's namespace). See {@link clusterNamespaces}. */
  namespaces?: readonly string[];
  signal?: AbortSignal;
}

/** The label selector of amphi's objects in one environment. */
export function managedSelector(env: string): string {
  return `${LABELS.managedBy}=amphi,${LABELS.env}=${env}`;
}

/** The namespaces amphi uses on a cluster in an environment: the cluster's own and every placement's,
 * sorted. Read all of them, or an object in a placement's namespace would be re-created on every plan. */
export function clusterNamespaces(env: EnvironmentModel, cluster: string): string[] {
  const own = env.clusters.find((c) => c.name === cluster)?.namespace;
  const used = env.placements.flatMap((p) => (p.type === "cluster" && p.cluster === cluster ? [p.namespace] : []));
  return [...new Set([...(own ? [own] : []), ...used])].sort(compareStrings);
}

/** Reads amphi's Deployments, Services and ConfigMaps of environment `env` on `cluster`, sorted by key.
 * A namespace that does not exist yet holds nothing. Any kubectl failure (not installed, unknown context,
 * unreachable, Forbidden) throws a KubectlError naming the cluster, its context and kubectl's message. */
export async function readCluster(cluster: ClusterModel, env: string, opts: ReadClusterOptions): Promise<{ resources: K8sActual[] }> {
  const namespaces = [...new Set(opts.namespaces ?? [cluster.namespace])];
  const lists = await Promise.all(namespaces.map((ns) => readNamespace(cluster, env, ns, opts)));
  const resources = lists.flat().map(maskSecretData).map((object): K8sActual => {
    const ns = object.metadata.namespace ?? "";
    const app = object.metadata.labels?.[LABELS.app] ?? object.metadata.name;
    return { runtime: "k8s", key: k8sKey(cluster.name, object.kind, ns, object.metadata.name), app, target: cluster.name, object };
  });
  return { resources: resources.sort((a, b) => compareStrings(a.key, b.key)) };
}

// A live Secret's values go no further than this reader: each reads "(secret)" (amphi compares Secrets by the
// keyed digest in their annotation), so no plan, report or record can hold them.
function maskSecretData(object: K8sObject): K8sObject {
  if (object.kind !== "Secret") return object;
  const masked: K8sObject = { ...object };
  for (const field of ["data", "stringData"]) {
    const v = object[field];
    if (typeof v === "object" && v !== null) masked[field] = Object.fromEntries(Object.keys(v).map((k) => [k, SECRET_PLACEHOLDER]));
  }
  return masked;
}

async function readNamespace(cluster: ClusterModel, env: string, ns: string, opts: ReadClusterOptions): Promise<K8sObject[]> {
  const args = ["get", MANAGED_RESOURCES.join(","), "-n", ns, "-l", managedSelector(env), "-o", "json"];
  const r = await runKubectl(cluster, args, opts, { signal: opts.signal });
  // A real API server lists a missing namespace as empty; some answer NotFound for the namespace itself.
  if (r.code !== 0 && new RegExp(`namespaces "${ns}" not found`).test(r.stderr) && !/Forbidden/.test(r.stderr)) return [];
  if (r.code !== 0) throw new KubectlError(cluster, `kubectl get in namespace ${ns} failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`, r.stderr);
  return parseList(cluster, r.stdout);
}

/** The objects of `kubectl get -o json` output: a List's items, or one object. */
export function parseList(cluster: ClusterModel, stdout: string): K8sObject[] {
  let doc: unknown;
  try {
    doc = stdout.trim() === "" ? { items: [] } : JSON.parse(stdout);
  } catch (e) {
    throw new KubectlError(cluster, `kubectl get printed no JSON: ${(e as Error).message}`, "");
  }
  const items = isRecord(doc) && Array.isArray(doc["items"]) ? (doc["items"] as unknown[]) : [doc];
  return items.filter(isObject);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isObject(v: unknown): v is K8sObject {
  if (!isRecord(v) || typeof v["kind"] !== "string" || typeof v["apiVersion"] !== "string") return false;
  const md = v["metadata"];
  return isRecord(md) && typeof md["name"] === "string";
}

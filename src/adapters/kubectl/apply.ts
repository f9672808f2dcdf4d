// Writes to one cluster: one `kubectl apply --server-side --field-manager=amphi -f -` per batch (creating
// missing namespaces in the same apply), and prune by one `kubectl delete -f -`. kubectl's output is
// mapped back to each object, so a refusal names the object it concerns.
import { LABELS, type ClusterModel, type K8sObject } from "../../model/index.js";
import { KubectlError, isUnreachable, type ObjectFailure } from "./errors.js";
import { objectId, parseAppliedLines, parseDeleteOutput, splitErrors } from "./output.js";
import { runKubectl, type KubectlOptions } from "./run.js";

/** The field manager amphi applies as; fields it sets are owned by this name in managedFields. */
export const FIELD_MANAGER = "amphi";

/** A namespaced object to delete. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Options of {@link applyObjects}. */
export interface ApplyOptions extends KubectlOptions {
  /** Take over fields other managers own (`--force-conflicts`); only on the user's explicit request. */
  forceConflicts?: boolean;
  signal?: AbortSignal;
  /** Namespaces known to exist on this cluster; applyObjects checks the others and adds what it finds or
   * creates. Pass the same set across calls (one run) to check each namespace once. */
  knownNamespaces?: Set<string>;
}

/** What a batch apply did, object by object (`Kind/namespace/name`). */
export interface ApplyResult {
  applied: string[];
  failed: ObjectFailure[];
  /** Namespaces amphi created in this apply. */
  createdNamespaces: string[];
}

/** Server-side applies `objects` in one kubectl call, after adding a Namespace object for each namespace that
 * does not exist yet. Returns every object as applied or failed with kubectl's message for it; throws a
 * KubectlError only when kubectl could not run or reach the cluster at all. */
export async function applyObjects(cluster: ClusterModel, objects: K8sObject[], opts: ApplyOptions): Promise<ApplyResult> {
  if (objects.length === 0) return { applied: [], failed: [], createdNamespaces: [] };
  const missing = await missingNamespaces(cluster, objects, opts);
  const docs = [...missing.map(namespaceObject), ...objects];
  const args = ["apply", "--server-side", `--field-manager=${FIELD_MANAGER}`, ...(opts.forceConflicts ? ["--force-conflicts"] : []), "-f", "-"];
  // A stream of JSON documents (kubectl reads one after another; a `---` separator would end the stream):
  // every string quoted, so no YAML 1.1 `on`/`yes` surprises, and cheaper to write than YAML.
  const input = docs.map((d) => JSON.stringify(d)).join("\n") + "\n";
  const r = await runKubectl(cluster, args, opts, { input, signal: opts.signal });
  const ids = docs.map(objectId);
  const appliedIdx = parseAppliedLines(r.stdout, docs);
  if (r.code !== 0 && appliedIdx.size === 0 && isUnreachable(r.stderr)) {
    throw new KubectlError(cluster, `kubectl apply failed: ${splitErrors(r.stderr).join(" / ") || `exit code ${r.code}`}`, r.stderr);
  }
  const failedIdx = ids.map((_, i) => i).filter((i) => !appliedIdx.has(i));
  const errors = splitErrors(r.stderr);
  const fallback = errors.join(" / ") || (r.code === 0 ? "kubectl printed no result for it" : `kubectl exited ${r.code}`);
  // kubectl visits the objects in order and reports each failure in that order: pair them when the counts match.
  const failed = failedIdx.map((i, n) => ({ object: ids[i]!, message: errors.length === failedIdx.length ? errors[n]! : fallback }));
  for (const i of appliedIdx) if (docs[i]!.kind === "Namespace") opts.knownNamespaces?.add(docs[i]!.metadata.name);
  const nsCount = missing.length;
  return {
    applied: [...appliedIdx].filter((i) => i >= nsCount).sort((a, b) => a - b).map((i) => ids[i]!),
    failed: failed.map((f) => (f.object.startsWith("Namespace/") ? { ...f, message: `cannot create the namespace: ${f.message}` } : f)),
    createdNamespaces: [...appliedIdx].filter((i) => i < nsCount).map((i) => docs[i]!.metadata.name),
  };
}

// Why amphi creates namespaces (as Argo CD's CreateNamespace=true does): a first apply into a new namespace
// should just work. Only missing ones are created, labelled as amphi's, and amphi never deletes a namespace:
// they are not among the kinds it reads, so no plan can ever prune one.
function namespaceObject(name: string): K8sObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { [LABELS.managedBy]: "amphi" } } };
}

/** The namespaces of `objects` that do not exist, in first-use order. One `kubectl get namespace` for those
 * not known yet. Not allowed to read namespaces (namespaced RBAC)? Then assume they exist: the apply will say. */
async function missingNamespaces(cluster: ClusterModel, objects: K8sObject[], opts: ApplyOptions): Promise<string[]> {
  const known = opts.knownNamespaces ?? new Set<string>();
  const wanted = [...new Set(objects.flatMap((o) => (o.metadata.namespace ? [o.metadata.namespace] : [])))].filter((ns) => !known.has(ns));
  if (wanted.length === 0) return [];
  const r = await runKubectl(cluster, ["get", "namespaces", ...wanted, "--ignore-not-found", "-o", "name"], opts, { signal: opts.signal });
  if (r.code !== 0 && /\(Forbidden\)/.test(r.stderr)) {
    wanted.forEach((ns) => known.add(ns));
    return [];
  }
  if (r.code !== 0) throw new KubectlError(cluster, `kubectl get namespaces failed: ${splitErrors(r.stderr).join(" / ") || `exit code ${r.code}`}`, r.stderr);
  const present = new Set(r.stdout.split("\n").filter((l) => l.startsWith("namespace/")).map((l) => l.slice("namespace/".length).trim()));
  present.forEach((ns) => known.add(ns));
  return wanted.filter((ns) => !present.has(ns));
}

/** What a prune did: objects deleted, already gone, or refused (with kubectl's message). */
export interface DeleteResult {
  deleted: string[];
  absent: string[];
  failed: ObjectFailure[];
}

/** Deletes objects in one `kubectl delete -f - --ignore-not-found --wait=false` (stub objects on stdin: kubectl
 * then sends one DELETE each, where names on the command line cost a GET each under kubectl's 5/s client-side
 * rate limit). Only pass objects that carry amphi's labels for the environment (the plan only holds those).
 * Throws a KubectlError when the cluster cannot be reached at all. */
export async function deleteObjects(cluster: ClusterModel, refs: ObjectRef[], opts: KubectlOptions & { signal?: AbortSignal }): Promise<DeleteResult> {
  if (refs.length === 0) return { deleted: [], absent: [], failed: [] };
  const unknown = refs.find((r) => !API_VERSIONS[r.kind]);
  if (unknown) throw new KubectlError(cluster, `cannot delete ${unknown.kind}/${unknown.namespace}/${unknown.name}: amphi does not manage ${unknown.kind} objects`, "");
  const stubs = refs.map((r) => JSON.stringify({ apiVersion: API_VERSIONS[r.kind], kind: r.kind, metadata: { name: r.name, namespace: r.namespace } }));
  const r = await runKubectl(cluster, ["delete", "-f", "-", "--ignore-not-found", "--wait=false"], opts, { input: stubs.join("\n") + "\n", signal: opts.signal });
  const out = parseDeleteOutput(r.stdout, r.stderr, refs);
  if (r.code !== 0 && out.deleted.length === 0 && isUnreachable(r.stderr)) {
    throw new KubectlError(cluster, `kubectl delete failed: ${splitErrors(r.stderr).join(" / ")}`, r.stderr);
  }
  return out;
}

/** apiVersion of each kind amphi renders (and so may prune). */
const API_VERSIONS: Record<string, string> = { Deployment: "apps/v1", Service: "v1", ConfigMap: "v1" };

// Runs the Kubernetes tasks of a run: `k8s-apply` (one server-side apply of the batch, then waiting until the
// applied Deployments are healthy) and `k8s-delete` (prune). Errors name the cluster and the object.
import { revealSecret, type ClusterModel, type EnvSecrets, type K8sObject, type TaskRecord } from "../../model/index.js";
import type { TaskSpec } from "../../plan/tasks.js";
import type { TaskHandler, TaskOutcome } from "../../ports/tasks.js";
import { applyObjects, deleteObjects, type ObjectRef } from "./apply.js";
import { ClusterTaskError } from "./errors.js";
import { waitHealthy, type WaitOptions } from "./wait.js";
import type { KubectlOptions } from "./run.js";

/** Options of the cluster handler. */
export interface ClusterHandlerOptions {
  /** The environment's clusters; a task's target names one. */
  clusters: ClusterModel[];
  env: string;
  kubectl: KubectlOptions;
  /** How long applied Deployments may take to become healthy; also how long `Available=False` may last. */
  healthTimeoutMs: number;
  /** `amphi apply --force-conflicts`: take over fields other field managers own, also on clusters whose
   * environment says `forceConflicts: false` (where the cluster's own setting is true, it forces anyway). */
  forceConflicts: boolean;
  /** The environment's secrets: the plaintext behind each token of a Secret's data, put in just before the
   * objects go to kubectl's stdin (absent: no Secret may carry a token). */
  secrets?: EnvSecrets;
  /** Clock for health timeouts (default: the system clock). */
  now?: () => Date;
  /** Health polling: first delay and cap of the backoff (default 500 ms and 5 s). */
  poll?: { initialMs: number; maxMs: number };
}

/** `object` with a Secret's tokens replaced by their values (base64, as `data` wants them). Throws naming the
 * Secret and key when a value is not known (its secrets were not decrypted). A value that is neither a token nor
 * the placeholder comes from a model built in code, not loaded (tests): it is the value. */
export function withSecretValues(object: K8sObject, secrets: EnvSecrets | undefined): K8sObject {
  const data = object["data"];
  if (object.kind !== "Secret" || typeof data !== "object" || data === null) return object;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data as Record<string, string>)) {
    const plain = revealSecret(secrets, value);
    if (plain === undefined) throw new Error(`Secret ${object.metadata.namespace ?? ""}/${object.metadata.name} ${key}: no value to apply (its secrets were not decrypted)`);
    out[key] = Buffer.from(plain, "utf8").toString("base64");
  }
  return { ...object, data: out } as K8sObject;
}

type Ctx = { signal: AbortSignal; log(line: string): void };

/** The TaskHandler for `k8s-apply` and `k8s-delete` tasks, through kubectl. */
export class ClusterTaskHandler implements TaskHandler {
  /** Namespaces seen to exist, per cluster, so each is checked once per handler (one run). */
  private readonly namespaces = new Map<string, Set<string>>();

  constructor(private readonly opts: ClusterHandlerOptions) {}

  /** Runs one task. Throws a ClusterTaskError (named `TaskError`) when the cluster refused an object or a
   * Deployment did not become healthy, a KubectlError when the cluster could not be reached. */
  async run(task: TaskRecord & { spec: TaskSpec }, ctx: Ctx): Promise<TaskOutcome> {
    const cluster = this.opts.clusters.find((c) => c.name === task.target);
    if (!cluster) throw new ClusterTaskError(task.target, [{ object: "", message: `not a cluster of environment ${this.opts.env}` }]);
    const p = task.spec.payload;
    if (p.kind === "k8s-apply") return this.apply(cluster, p.objects.map((r) => r.object), ctx);
    if (p.kind === "k8s-delete") return this.delete(cluster, p.objects.map(parseObjectName), ctx);
    throw new ClusterTaskError(cluster.name, [{ object: "", message: `${p.kind} is not a cluster task` }]);
  }

  private async apply(cluster: ClusterModel, objects: K8sObject[], ctx: Ctx): Promise<TaskOutcome> {
    const known = this.namespaces.get(cluster.name) ?? new Set<string>();
    this.namespaces.set(cluster.name, known);
    // Why force by default: an apply that stops at the first `kubectl edit` never heals drift. Only fields amphi
    // renders are sent (ignored ones are left out for existing objects, in plan/tasks.ts), so forcing never
    // takes a field from the controller an ignore rule leaves it to.
    const forceConflicts = this.opts.forceConflicts || cluster.forceConflicts;
    const result = await applyObjects(cluster, objects.map((o) => withSecretValues(o, this.opts.secrets)), { ...this.opts.kubectl, forceConflicts, signal: ctx.signal, knownNamespaces: known });
    for (const ns of result.createdNamespaces) ctx.log(`created namespace ${ns}`);
    // Forcing is the default; the log says so only when the flag overrode an environment that opted out.
    const overridden = forceConflicts && !cluster.forceConflicts;
    ctx.log(`applied ${result.applied.length}/${objects.length} objects${overridden ? " (--force-conflicts)" : ""}`);
    for (const f of result.failed) ctx.log(`${f.object}: ${f.message}`);
    if (result.failed.length > 0) throw new ClusterTaskError(cluster.name, result.failed.map((f) => withHint(f, this.opts.env)), result.applied);
    const deployments = objects.filter((o) => o.kind === "Deployment");
    const health = await waitHealthy(cluster, deployments, this.waitOptions(ctx));
    const bad = health.filter((h) => h.health !== "healthy");
    if (bad.length > 0) throw new ClusterTaskError(cluster.name, bad.map((h) => ({ object: h.object, message: `${h.health}: ${h.message}` })), result.applied);
    const healthy = deployments.length > 0 ? `, ${deployments.length} Deployment${deployments.length === 1 ? "" : "s"} healthy` : "";
    return { result: "changed", message: `applied ${result.applied.length} object${result.applied.length === 1 ? "" : "s"}${healthy}` };
  }

  private async delete(cluster: ClusterModel, refs: ObjectRef[], ctx: Ctx): Promise<TaskOutcome> {
    const result = await deleteObjects(cluster, refs, { ...this.opts.kubectl, signal: ctx.signal });
    for (const id of result.deleted) ctx.log(`deleted ${id}`);
    for (const id of result.absent) ctx.log(`${id} was already gone`);
    if (result.failed.length > 0) throw new ClusterTaskError(cluster.name, result.failed, result.deleted);
    const n = result.deleted.length;
    return n > 0
      ? { result: "changed", message: `deleted ${n} object${n === 1 ? "" : "s"}${result.absent.length ? `, ${result.absent.length} already gone` : ""}` }
      : { result: "unchanged", message: `${result.absent.length} object${result.absent.length === 1 ? "" : "s"} already gone` };
  }

  private waitOptions(ctx: Ctx): WaitOptions {
    const poll = this.opts.poll ?? { initialMs: 500, maxMs: 5000 };
    return { ...this.opts.kubectl, timeoutMs: this.opts.healthTimeoutMs, now: this.opts.now ?? (() => new Date()), poll, signal: ctx.signal, log: ctx.log };
  }
}

// A conflict is the one refusal the user can resolve with a flag of amphi's own: say which. (It only happens
// where the environment opted out of forcing, or when the cluster refuses even a forced apply.)
function withHint(f: { object: string; message: string }, env: string): { object: string; message: string } {
  if (!/Apply failed with \d+ conflicts?/.test(f.message)) return f;
  const hint = `another field manager owns these fields; amphi apply --force-conflicts takes them over (environment ${env} sets forceConflicts: false)`;
  return { ...f, message: `${f.message} (${hint})` };
}

/** `Kind/namespace/name` (a plan step's object) as an ObjectRef. */
export function parseObjectName(object: string): ObjectRef {
  const parts = object.split("/");
  if (parts.length !== 3 || parts.some((p) => p === "")) throw new Error(`cannot delete ${object}: expected Kind/namespace/name`);
  return { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
}

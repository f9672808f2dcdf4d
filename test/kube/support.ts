// Shared setup of the kube suites: the real kubectl against kubeTestTarget() (a kube-apiserver double, or the
// real cluster named by AMPHI_TEST_KUBE_CONTEXT), cluster models pointing at it, unique namespaces, and the
// example repo rendered into one of them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runPiped } from "../../src/adapters/process/spawn.js";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import type { KubectlOptions } from "../../src/adapters/kubectl/index.js";
import { loadModel } from "../../src/config/index.js";
import { unlockSecrets } from "../../src/secrets/unlock.js";
import { EXAMPLE_AGE_KEY } from "../support/cli.js";
import type { ActualResource, ActualState, ClusterModel, DesiredState, EnvironmentModel, K8sObject, Model, Resource } from "../../src/model/index.js";
import { render } from "../../src/render/index.js";
import type { KubeTestTarget } from "../support/kubeconfig.js";

/** The kubectl binary the suites drive (KUBECTL overrides). */
export const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";

/** `skip` option for node:test: a reason when kubectl is missing, except under CI=true (then the suite fails). */
export function skipWithoutKubectl(): string | false {
  if (existsSync(KUBECTL)) return false;
  return process.env.CI === "true" ? false : `${KUBECTL} is not installed`;
}

/** Why a test that needs the double's controls (forbid, setDeploymentStatus, autoReady) skips on a real cluster. */
export const NEEDS_DOUBLE = "needs the kube-apiserver double's test controls (forbid, setDeploymentStatus, autoReady)";

/** kubectl options for the target: its kubeconfig and a private discovery cache. */
export function kubectlOptions(target: KubeTestTarget, onSpawn?: (args: readonly string[]) => void): KubectlOptions {
  const env: NodeJS.ProcessEnv = { ...process.env, ...target.kubeconfig.env };
  delete env.KUBERNETES_SERVICE_HOST; // never an in-cluster config in tests
  return { binary: KUBECTL, kubeconfig: target.kubeconfig.path, requestTimeout: "10s", env, ...(onSpawn ? { onSpawn } : {}) };
}

let counter = 0;
/** A namespace name unique to this process and call (`amphi-t-<pid>-<n>-<label>`). */
export function uniqueNamespace(label: string): string {
  return `amphi-t-${process.pid}-${++counter}-${label}`.slice(0, 63).replace(/-+$/, "");
}

/** The cluster model amphi would have for the target's context, with `namespace` as its namespace (and the
 * default `forceConflicts: true` unless told otherwise). */
export function clusterOf(target: KubeTestTarget, name: string, namespace: string, forceConflicts = true): ClusterModel {
  return { name, context: target.kubeconfig.contexts[0]!, namespace, forceConflicts };
}

/** Runs kubectl on the target (test setup and inspection, not the adapter under test); rejects on failure.
 * Never spawnSync: the double answers from this very process, so a blocked event loop would deadlock. */
export async function kubectlText(target: KubeTestTarget, args: string[], input?: string): Promise<string> {
  const r = await runPiped(KUBECTL, [...target.kubeconfig.args(), ...args], { env: { ...process.env, ...target.kubeconfig.env }, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr.toString("utf8")}`);
  return r.stdout.toString("utf8");
}

/** kubectl … -o json on the target, parsed. */
export async function kubectlJson(target: KubeTestTarget, args: string[]): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(await kubectlText(target, [...args, "-o", "json"])) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Deletes namespaces created by a suite (on a real cluster they would stay otherwise). */
export async function deleteNamespaces(target: KubeTestTarget | undefined, names: Iterable<string>): Promise<void> {
  const list = [...names];
  if (!target || list.length === 0) return;
  await kubectlText(target, ["delete", "namespace", ...list, "--ignore-not-found", "--wait=false"]).catch(() => {});
}

/** The example repo (examples/config) with prod's cluster eu1 and all its cluster placements moved into
 * `namespace`, so each test works in a namespace of its own. */
export async function exampleModel(namespace: string): Promise<Model> {
  const model = await loadModel(new DirSource(join(import.meta.dirname, "../../examples/config")));
  // The example's secrets decrypted with its (public, placeholder-only) key, as an apply would (issue 13).
  await unlockSecrets(model, { AMPHI_AGE_KEY_FILE: EXAMPLE_AGE_KEY }, process.cwd());
  return moveToNamespace(model, "prod", namespace);
}

/** A copy of `model` whose environment `envName` puts every cluster and placement into `namespace`. */
export function moveToNamespace(model: Model, envName: string, namespace: string): Model {
  const copy = structuredClone(model);
  const move = (env: EnvironmentModel): EnvironmentModel => ({
    ...env,
    clusters: env.clusters.map((c) => ({ ...c, namespace })),
    placements: env.placements.map((p) => (p.type === "cluster" ? { ...p, namespace } : p)),
  });
  return { ...copy, environments: copy.environments.map((e) => (e.name === envName ? move(e) : e)) };
}

/** Renders `envName` and keeps only the Kubernetes objects of `cluster`. */
export function desiredOn(model: Model, envName: string, cluster: string): DesiredState {
  const desired = render(model, envName);
  return { env: desired.env, resources: desired.resources.filter((r) => r.runtime === "k8s" && r.target === cluster) };
}

/** The Kubernetes objects of a desired state. */
export function objectsOf(resources: readonly Resource[]): K8sObject[] {
  return resources.flatMap((r) => (r.runtime === "k8s" ? [r.object] : []));
}

/** An ActualState of one environment from read resources. */
export function actualOf(env: string, resources: ActualResource[]): ActualState {
  return { env, observedAt: null, resources, unreachable: [] };
}

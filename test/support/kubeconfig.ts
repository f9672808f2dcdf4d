// Temporary kubeconfig files for tests that run the real `kubectl`: contexts pointing at the
// kube-apiserver double (or any URL), plus one pointing at a closed port for "unreachable" tests.
// Each file lives in its own temp dir, next to a kubectl discovery cache dir, so runs never share
// state or touch ~/.kube. kubeTestTarget() picks a real cluster instead when AMPHI_TEST_KUBE_CONTEXT
// is set.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./ports.js";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { dump } from "js-yaml";
import { startKubeApiServer, type KubeApiDouble, type KubeApiServerOptions } from "./kube-apiserver/index.js";

/** One context to write: its name, the server URL and an optional default namespace. */
export interface ContextSpec {
  name: string;
  server: string;
  namespace?: string;
}

/** A kubeconfig on disk. */
export interface TempKubeconfig {
  /** The kubeconfig file. */
  path: string;
  /** The temp dir holding it (and kubectl's cache); removed by cleanup(). */
  dir: string;
  /** Context names, in the order given; the first is current-context. */
  contexts: string[];
  /** Environment for kubectl child processes: KUBECONFIG and KUBECACHEDIR set, nothing inherited
   * that points elsewhere (merge with process.env yourself if PATH etc. are needed). */
  env: Record<string, string>;
  /** Arguments selecting this file and a context: ["--kubeconfig", path, "--context", name]. */
  args(context?: string): string[];
  /** Removes the temp dir. */
  cleanup(): void;
}

/** Context name for the double in kubeconfigFor(). */
export const DOUBLE_CONTEXT = "amphi-test";
/** Context name for a closed port in kubeconfigFor(). */
export const UNREACHABLE_CONTEXT = "amphi-unreachable";

/** Writes a kubeconfig with one cluster, user and context per spec, in a fresh temp dir. */
export function writeKubeconfig(specs: ContextSpec[]): TempKubeconfig {
  if (specs.length === 0) throw new Error("writeKubeconfig: at least one context is needed");
  const dir = mkdtempSync(join(tmpdir(), `amphi-kube-${process.pid}-`));
  const path = join(dir, "kubeconfig");
  const config = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters: specs.map((s) => ({ name: s.name, cluster: { server: s.server } })),
    users: specs.map((s) => ({ name: s.name, user: {} })),
    contexts: specs.map((s) => ({
      name: s.name,
      context: { cluster: s.name, user: s.name, ...(s.namespace ? { namespace: s.namespace } : {}) },
    })),
    "current-context": specs[0]!.name,
  };
  writeFileSync(path, dump(config), { mode: 0o600 });
  const contexts = specs.map((s) => s.name);
  return {
    path,
    dir,
    contexts,
    env: { KUBECONFIG: path, KUBECACHEDIR: join(dir, "cache") },
    args: (context = contexts[0]!) => ["--kubeconfig", path, "--context", context],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on: a test port reserved for this process (freePort checks that it
 * binds, then lets it go; no other test process is given it). */
export const closedPort = (): Promise<number> => freePort();

/** A kubeconfig with context "amphi-test" → `server` (current) and "amphi-unreachable" → a
 * closed port on 127.0.0.1. */
export async function kubeconfigFor(server: { url: string } | string, namespace?: string): Promise<TempKubeconfig> {
  const url = typeof server === "string" ? server : server.url;
  return writeKubeconfig([
    { name: DOUBLE_CONTEXT, server: url, ...(namespace ? { namespace } : {}) },
    { name: UNREACHABLE_CONTEXT, server: `http://127.0.0.1:${await closedPort()}` },
  ]);
}

/** Where a kube suite runs: a real cluster, or a fresh double. */
export interface KubeTestTarget {
  kubeconfig: TempKubeconfig;
  /** The double, or undefined on a real cluster (tests of double-only controls skip then). */
  double: KubeApiDouble | undefined;
  /** Stops the double and removes its kubeconfig; leaves a real cluster's config alone. */
  close(): Promise<void>;
}

/** The real cluster context named by AMPHI_TEST_KUBE_CONTEXT (in $KUBECONFIG or ~/.kube/config),
 * else a new kube-apiserver double with a temp kubeconfig (see kubeconfigFor). */
export async function kubeTestTarget(opts: KubeApiServerOptions = {}): Promise<KubeTestTarget> {
  const context = process.env.AMPHI_TEST_KUBE_CONTEXT;
  if (context) {
    const path = process.env.KUBECONFIG ?? join(homedir(), ".kube", "config");
    const kubeconfig: TempKubeconfig = {
      path,
      dir: "",
      contexts: [context],
      env: { KUBECONFIG: path },
      args: (c = context) => ["--kubeconfig", path, "--context", c],
      cleanup: () => {},
    };
    return { kubeconfig, double: undefined, close: async () => {} };
  }
  const double = await startKubeApiServer(opts);
  const kubeconfig = await kubeconfigFor(double);
  return {
    kubeconfig,
    double,
    close: async () => {
      await double.close();
      kubeconfig.cleanup();
    },
  };
}

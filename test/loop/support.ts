// A config repo for loop tests: a private copy of the example (free ports) made a Git repository with
// one commit; `.amphi/` (runs, locks, the local hosts' files) is ignored by Git as a user would have it.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, git, initRepo, writeFiles } from "../support/git-repo.js";
import { LocalConnector } from "../../src/adapters/local/index.js";
import { stop } from "../../src/hosts/lifecycle.js";
import { FileStateStore } from "../../src/adapters/state/file-store.js";

/** A loop test repo. */
export interface LoopRepo {
  dir: string;
  ports: Record<number, number>;
  /** The first commit. */
  sha: string;
  store: FileStateStore;
  commit(message: string): Promise<string>;
  head(): Promise<string>;
  /** Undeploys what the tests started (amphi demo --down) and removes the repo. */
  cleanup(): Promise<void>;
}

/** Makes the repo (see the top of this file). */
export async function loopRepo(prefix: string): Promise<LoopRepo> {
  const { dir, ports } = await exampleCopy(prefix);
  writeFiles(dir, { ".gitignore": ".amphi/\n" });
  await initRepo(dir);
  const sha = await commitAll(dir, "example config");
  return {
    dir,
    ports,
    sha,
    store: new FileStateStore(join(dir, ".amphi")),
    commit: (message) => commitAll(dir, message),
    head: () => git(dir, "rev-parse", "HEAD"),
    cleanup: async () => {
      await amphi(["demo", "--repo", dir, "--down"], dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sets billing's APP_VERSION env var (a one-app change: billing is redeployed). */
export function setBillingEnv(dir: string, value: string): void {
  const spec = join(dir, "apps/billing/spec.yaml");
  writeFileSync(spec, readFileSync(spec, "utf8").replace(/(name: APP_VERSION\n\s+value: )\S+/, `$1${value}`));
}

/** HTTP status of a health URL on this machine, 0 when nothing answers. */
export async function health(port: number, path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  return res?.status ?? 0;
}

/** Stops an app the local environment runs (drift: its process is down). */
export async function stopApp(dir: string, app: string): Promise<void> {
  const connector = new LocalConnector({ cwd: dir });
  const ref = { group: "here", host: "localhost", address: "127.0.0.1", transport: "local" as const, ssh: { user: "x", port: 22, identityFile: null, knownHostsFile: null, proxyJump: null }, baseDir: join(dir, ".amphi/hosts/here") };
  const session = await connector.open(ref);
  await stop({ session, env: "local", now: () => new Date().toISOString(), log: () => {} }, app);
  await connector.closeAll();
}

/** The env var value billing's running process was started with (from its recorded instance). */
export function billingEnvOnHost(dir: string): string | undefined {
  const state = JSON.parse(readFileSync(join(dir, ".amphi/hosts/here/state.json"), "utf8")) as { apps: Record<string, { instance: { environment: Record<string, string> } }> };
  return state.apps.billing?.instance.environment.APP_VERSION;
}

// An environment for crash tests: a config repo (Git) with one app, billing, placed on one `transport: local`
// host whose base dir is a temp dir; packages 2.3.0 (the example), 2.4.0 (a variant) and 2.5.0 (a package
// whose health check always fails); `amphi` run as a child process that a test can SIGKILL (its whole
// process group, never the apps it started), or in-process for the run after.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnPiped, type PipedChild } from "../../src/adapters/process/spawn.js";
import type { HostStateFile } from "../../src/model/index.js";
import { amphi, type CliResult } from "./cli.js";
import { commitAll, initRepo } from "./git-repo.js";
import { buildPackage, EXAMPLE_PACKAGE, EXAMPLE_SHA, freePort, killUnder, processesUnder, type FoundProcess } from "./local-host.js";

const BIN = fileURLToPath(new URL("../../bin/amphi.js", import.meta.url));

/** A version of billing the test can ask for. `bad`: its health check answers 503. */
export type Version = "2.3.0" | "2.4.0" | "2.5.0";

/** What the config says billing should be: a version and extra env, or null (no placement). */
export type Desired = { version: Version; env?: Record<string, string> } | null;

/** A running `amphi` child process. */
export interface AmphiChild {
  child: PipedChild;
  /** Everything it printed to stderr so far. */
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGKILL to its whole process group (the scripts it runs on the "host" are in their own groups, like
   * commands a dead ssh client left running). */
  kill(): void;
}

/** One crash-test environment. */
export interface CrashEnv {
  dir: string;
  repo: string;
  baseDir: string;
  port: number;
  /** Release directory names by version (`2.3.0-5d3785d5`). */
  release: Record<Version, string>;
  /** Writes and commits the config for `d`. */
  setDesired(d: Desired): Promise<void>;
  /** Starts `amphi ARGS` as a child process in the repo (with `env` over this process's environment). */
  spawn(args: string[], env?: NodeJS.ProcessEnv): AmphiChild;
  /** Runs `amphi ARGS` in-process in the repo, to the end. */
  run(args: string[]): Promise<CliResult>;
  /** state.json, or null when there is none. */
  state(): HostStateFile | null;
  /** The release `current` points at, or null. */
  current(): string | null;
  /** Live processes whose working directory is under the base dir (the apps amphi started). */
  appProcesses(): FoundProcess[];
  cleanup(): void;
}

const BAD_SERVER = `import { createServer } from "node:http";
createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 503 : 200, { "content-type": "application/json" });
  res.end(JSON.stringify({ version: process.env.APP_VERSION, healthy: false }) + "\\n");
}).listen(Number(process.argv[2]), "127.0.0.1");
`;

/** Creates the repo and packages; nothing is deployed yet. */
export async function crashEnv(prefix: string): Promise<CrashEnv> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  const repo = join(dir, "repo");
  const baseDir = join(dir, "host");
  mkdirSync(join(repo, "packages"), { recursive: true });
  const port = await freePort();
  const v24 = buildPackage(dir, "billing-2.4.0", { VERSION: "2.4.0\n" });
  const v25 = buildPackage(dir, "billing-2.5.0", { "server.mjs": BAD_SERVER });
  copyFileSync(EXAMPLE_PACKAGE, join(repo, "packages/billing-2.3.0.tar.gz"));
  copyFileSync(v24.path, join(repo, "packages/billing-2.4.0.tar.gz"));
  copyFileSync(v25.path, join(repo, "packages/billing-2.5.0.tar.gz"));
  const sha: Record<Version, string> = { "2.3.0": EXAMPLE_SHA, "2.4.0": v24.sha256, "2.5.0": v25.sha256 };
  const release = Object.fromEntries(Object.entries(sha).map(([v, s]) => [v, `${v}-${s.slice(0, 8)}`])) as Record<Version, string>;
  await initRepo(repo);
  writeFileSync(join(repo, ".gitignore"), ".amphi/\n");

  const setDesired = async (d: Desired): Promise<void> => {
    if (d) writeFileSync(join(repo, "apps/billing/spec.yaml"), specYaml(port, d.version, sha[d.version], d.env ?? {}), { flag: "w" });
    writeFileSync(join(repo, "environments/local.yaml"), envYaml(baseDir, d !== null));
    await commitAll(repo, d ? `billing ${d.version} ${JSON.stringify(d.env ?? {})}` : "billing removed");
  };
  mkdirSync(join(repo, "apps/billing"), { recursive: true });
  mkdirSync(join(repo, "environments"), { recursive: true });
  writeFileSync(join(repo, "apps/billing/spec.yaml"), specYaml(port, "2.3.0", sha["2.3.0"], {}));

  return {
    dir,
    repo,
    baseDir,
    port,
    release,
    setDesired,
    spawn: (args, env) => spawnAmphi(repo, args, env),
    run: (args) => amphi(args, repo),
    state: () => {
      const f = join(baseDir, "state.json");
      return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as HostStateFile) : null;
    },
    current: () => {
      try {
        return readlinkSync(join(baseDir, "apps/billing/current")).replace(/^releases\//, "");
      } catch {
        return null;
      }
    },
    appProcesses: () => processesUnder(baseDir).filter((p) => p.cwd === baseDir || p.cwd.startsWith(`${baseDir}/`)),
    cleanup: () => {
      killUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function spawnAmphi(repo: string, args: string[], env?: NodeJS.ProcessEnv): AmphiChild {
  // through the spawn addon: no fork of this test process (~40 amphi runs a sweep); stdout is read and dropped
  const child = spawnPiped(process.execPath, [BIN, ...args], { cwd: repo, detached: true, env: { ...process.env, ...env } });
  child.stdin.end();
  child.stdout.resume();
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    stderr: () => err,
    exited,
    kill: () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    },
  };
}

function specYaml(port: number, version: Version, sha256: string, env: Record<string, string>): string {
  const extra = Object.entries(env).map(([k, v]) => `    - name: ${k}\n      value: "${v}"\n`).join("");
  return `apiVersion: v1
kind: Application
metadata:
  name: billing
spec:
  services:
  - name: billing
    ports:
    - targetPort: ${port}
      protocol: http
    healthCheck:
      path: /health
  package:
    version: ${version}
    path: packages/billing-${version}.tar.gz
    sha256: ${sha256}
    start: node server.mjs ${port} billing
    env:
    - name: APP_VERSION
      value: "${version}"
${extra}`;
}

function envYaml(baseDir: string, placed: boolean): string {
  return `apiVersion: v1
kind: Environment
spec:
  mesh:
    serviceIP: 10.255.0.1
    capture: false
    sidecar:
      image: envoyproxy/envoy:v1.31.2
  hostGroups:
  - name: here
    transport: local
    baseDir: ${baseDir}
    maxUnavailable: 1
    hosts:
    - name: localhost
      address: 127.0.0.1
  placements:${placed ? "\n  - app: billing\n    hostGroup: here" : " []"}
  status:
    provider: none
  state:
    backend: file
    path: .amphi
`;
}

/** Polls `check` every 10 ms until it returns something truthy or `ms` pass (then throws `what`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The text of a file, or "" when it cannot be read. */
export function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

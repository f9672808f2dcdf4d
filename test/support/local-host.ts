// A "host" for host-task tests: a unique temp base dir on this machine, reached through LocalConnector,
// plus helpers to build packages, pick free ports, and find (and kill) every process a test left there.
import { createHash } from "node:crypto";
import { chmodSync, chownSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalConnector } from "../../src/adapters/local/index.js";
import type { HostInstance } from "../../src/model/index.js";
import type { HostRef, HostSession } from "../../src/ports/hosts.js";
import type { TaskContext } from "../../src/hosts/task.js";
import { spawnSync } from "./spawn.js";

/** The example package: a tiny node HTTP server (`node server.mjs <port> <name>`). */
export const EXAMPLE_PACKAGE = fileURLToPath(new URL("../../examples/config/packages/billing-2.3.0.tar.gz", import.meta.url));
export const EXAMPLE_SHA = "5d3785d58a3190c6e18aaffeb33c4e9819aaead6bf79fb0841985274d623d2f4";

/** A temp host on this machine. */
export interface LocalHost {
  /** Temp root (packages built by the test go here too). */
  dir: string;
  /** The host's base dir (`<dir>/host`, created on the first deploy). */
  baseDir: string;
  connector: LocalConnector;
  session: HostSession;
  /** Task output lines of every task run through ctx(). */
  logs: string[];
  /** A task context on this host (environment `staging`, a fixed clock). */
  ctx(signal?: AbortSignal): TaskContext;
  /** Kills whatever still runs from the base dir, closes the session, removes the temp dir. */
  cleanup(): Promise<void>;
}

/** A host ref for a base dir (transport local). */
export function localRef(baseDir: string, host = "localhost"): HostRef {
  return {
    group: "local",
    host,
    address: "127.0.0.1",
    transport: "local",
    ssh: { user: "root", port: 22, identityFile: null, knownHostsFile: null, proxyJump: null },
    baseDir,
  };
}

/** Creates a temp host; names carry the pid and a random suffix so parallel runs never share one. */
export async function localHost(): Promise<LocalHost> {
  const dir = mkdtempSync(join(tmpdir(), `amphi-host-${process.pid}-`));
  const baseDir = join(dir, "host");
  const connector = new LocalConnector({ cwd: dir });
  const session = await connector.open(localRef("host"));
  const logs: string[] = [];
  let tick = 0;
  return {
    dir,
    baseDir,
    connector,
    session,
    logs,
    ctx: (signal) => ({
      session,
      env: "staging",
      now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)).toISOString(),
      log: (line) => logs.push(line),
      signal,
    }),
    cleanup: async () => {
      killUnder(dir);
      await connector.closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { freePort } from "./ports.js";

/** The billing example as a host instance on `port`, with overrides. */
export function billingInstance(port: number, over: Partial<HostInstance> = {}): HostInstance {
  return {
    app: "billing",
    env: "staging",
    hostGroup: "local",
    host: "localhost",
    address: "127.0.0.1",
    baseDir: "host",
    version: "2.3.0",
    package: { path: "packages/billing-2.3.0.tar.gz" },
    sha256: EXAMPLE_SHA,
    start: `node server.mjs ${port} billing`,
    user: null,
    environment: { APP_VERSION: "2.3.0" },
    secretEnv: [],
    ports: [{ name: `http-${port}`, port, protocol: "http" }],
    health: { path: "/health", port },
    services: ["billing"],
    specHash: "0".repeat(64),
    registrations: [`billing-localhost-${port}`],
    ...over,
  };
}

/** Builds a variant of the example package under `dir` with `files` written over it; returns its path
 * and sha256. */
export function buildPackage(dir: string, name: string, files: Record<string, string>): { path: string; sha256: string } {
  const src = join(dir, `${name}.src`);
  rmSync(src, { recursive: true, force: true });
  cpSync(EXAMPLE_PACKAGE, join(dir, `${name}.orig.tar.gz`));
  mkdirSync(src, { recursive: true });
  const x = spawnSync("tar", ["-xzf", join(dir, `${name}.orig.tar.gz`), "-C", src], { encoding: "utf8" });
  if (x.status !== 0) throw new Error(`tar -x: ${x.stderr}`);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(src, file), text);
  const path = join(dir, `${name}.tar.gz`);
  const c = spawnSync("tar", ["-czf", path, "-C", src, "."], { encoding: "utf8" });
  if (c.status !== 0) throw new Error(`tar -c: ${c.stderr}`);
  return { path, sha256: sha256File(path) };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** A live process (not a zombie) whose command line or working directory mentions `dir`. */
export interface FoundProcess {
  pid: number;
  cmd: string;
  cwd: string;
}

/** Every live process whose command line or working directory is under `dir` (through /proc). */
export function processesUnder(dir: string): FoundProcess[] {
  const roots = [...new Set([dir, safeRealpath(dir)])];
  const out: FoundProcess[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (/\) [ZX] /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim();
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // not ours to read, or gone
      }
      if (roots.some((r) => cmd.includes(r) || cwd === r || cwd.startsWith(`${r}/`))) out.push({ pid: Number(name), cmd, cwd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** SIGKILLs every process processesUnder finds (a test's last line of defence). */
export function killUnder(dir: string): number {
  const found = processesUnder(dir);
  for (const p of found) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  return found.length;
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Every path under `dir` with its type and content (file sha256, link target), sorted: equal listings
 * mean nothing was added, removed or changed. */
export function treeListing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/`);
        walk(p);
      } else out.push(`${rel} ${sha256File(p).slice(0, 16)} ${(st.mode & 0o777).toString(8)}`);
    }
  };
  walk(dir);
  return out;
}

/** GET http://<host>:<port><path> (host default 127.0.0.1); status 0, with `error` saying why, when nothing answers
 * within `timeoutMs`. */
export function httpGet(port: number, path: string, host = "127.0.0.1", timeoutMs = 2000): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    // A new connection for every request (agent: false): a pooled one (Node 20's global agent keeps them alive) can
    // outlive the app it was opened to, or the NAT rules it was opened under, and one the app closes after its 5 s
    // keep-alive just as it is reused fails with ECONNRESET.
    const req = request({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ status: 0, body: "", error: e.message }));
    req.end();
  });
}

/** Polls `check` until it holds or `ms` pass. A check that throws (a file not written yet) has not held yet; when it
 * still throws at the deadline, that error is thrown (a broken check is not hidden as "did not hold"). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    let failure: unknown = null;
    const held = await Promise.resolve()
      .then(check)
      .catch((e: unknown) => ((failure = e), false));
    if (held) return true;
    if (Date.now() > deadline) {
      if (failure !== null) throw failure;
      return false;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A session that runs every command through `prefix` (e.g. `env PATH=...`, or `setpriv --reuid=...` to
 * log in as another user): the same host seen by a differently set up login. */
export function wrapSession(session: HostSession, prefix: string[]): HostSession {
  return {
    host: session.host,
    exec: (argv, opts) => session.exec([...prefix, ...argv], opts),
    putFile: (local, remote, opts) => session.putFile(local, remote, opts),
    close: () => session.close(),
  };
}

/** uid and gid of `nobody` on Debian. */
export const NOBODY = 65534;

/** The host's session as a login that is not root: the temp dir handed to `nobody`, every command run
 * through `setpriv` as that user (needs root to set up). */
export function nobodySession(h: LocalHost): HostSession {
  chmodSync(h.dir, 0o755);
  chownSync(h.dir, NOBODY, NOBODY);
  return wrapSession(h.session, ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"]);
}

/** A directory of busybox applet links (plus `node`), for a PATH that looks like a busybox-only host. */
export function busyboxBin(dir: string): string {
  const bin = join(dir, "busybox-bin");
  mkdirSync(bin, { recursive: true });
  const list = spawnSync("busybox", ["--list"], { encoding: "utf8" });
  if (list.status !== 0) throw new Error("busybox is not installed");
  // symlinks made here, not with `ln -sf` (one process per applet: ~260 of them, a few seconds of CPU a run)
  const link = (target: string, name: string) => {
    rmSync(join(bin, name), { force: true });
    symlinkSync(target, join(bin, name));
  };
  for (const applet of list.stdout.split("\n").filter(Boolean)) link("/usr/bin/busybox", applet);
  link(process.execPath, "node");
  return bin;
}

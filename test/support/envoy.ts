// Envoy for tests: the binary (AMPHI_TEST_ENVOY, a real Envoy, or else amphi's Envoy test double in
// test/support/envoy/ — which says plainly that it is a double), and a helper that starts it on a bootstrap,
// optionally inside a network namespace and as another uid (as a sidecar runs: the proxy uid), talks to its admin
// interface (through the namespace) and waits for `/ready`.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnPiped } from "../../src/adapters/process/spawn.js";
import { load } from "js-yaml";
import { SOURCE_MAP_STACKS } from "./node-script.js";

/** The Envoy test double's executable (a sh script; runs from any cwd, as any uid). */
export const DOUBLE_PATH = fileURLToPath(new URL("./envoy/envoy", import.meta.url));

/** The Envoy binary tests run: `$AMPHI_TEST_ENVOY` (a real Envoy) or the test double. */
export function envoyBinary(): string {
  return process.env["AMPHI_TEST_ENVOY"] || DOUBLE_PATH;
}

/** Whether the tests run the double (not a real Envoy). */
export function isDouble(): boolean {
  return envoyBinary() === DOUBLE_PATH;
}

/** A launcher script with absolute paths (node, and the double: compiled when this module runs from the compiled
 * test tree test/run.mjs keeps, else main.ts under tsx) that runs the double from anywhere, even copied into a
 * package archive: `#!/bin/sh` + exec. */
export function doubleLauncher(): string {
  const compiled = fileURLToPath(new URL("./envoy/main.js", import.meta.url));
  if (existsSync(compiled)) return `#!/bin/sh\n# amphi's Envoy TEST DOUBLE (not Envoy)\nexec ${process.execPath} ${SOURCE_MAP_STACKS.join(" ")} ${compiled} "$@"\n`;
  const main = fileURLToPath(new URL("./envoy/main.ts", import.meta.url));
  const tsx = fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url));
  return `#!/bin/sh\n# amphi's Envoy TEST DOUBLE (not Envoy)\nexec ${process.execPath} --import ${tsx} ${main} "$@"\n`;
}

/** How to start one Envoy. */
export interface StartEnvoyOptions {
  /** The bootstrap (YAML or JSON text), written to a file the proxy uid can read. */
  bootstrap: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Run as this uid (and gid, default the uid), supplementary groups cleared. */
  uid?: number;
  gid?: number;
  /** More command-line arguments (e.g. `--service-node`). */
  args?: string[];
  /** Default `-l info`. */
  logLevel?: string;
}

/** A running Envoy. */
export interface RunningEnvoy {
  child: ChildProcess;
  /** Where its admin interface listens (inside its namespace); a port 0 in the bootstrap becomes the port bound
   * once the first admin request has read it. */
  admin: { address: string; port: number };
  /** stdout and stderr so far. */
  output(): string;
  /** A request to the admin interface (through the namespace when there is one). */
  adminRequest(path: string, method?: "GET" | "POST"): Promise<{ status: number; body: string }>;
  /** Resolves once `/ready` answers 200 LIVE; rejects with the output after `timeoutMs` or when it exits. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal name) once it exited. */
  exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

const SBIN_PATH = `${process.env["PATH"] ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;

/** Starts Envoy (or the double) on `opts.bootstrap`. */
export function startEnvoy(opts: StartEnvoyOptions): RunningEnvoy {
  const dir = mkdtempSync(join(tmpdir(), `amphi-envoy-${process.pid}-`));
  chmodSync(dir, 0o755);
  const config = join(dir, "bootstrap.yaml");
  writeFileSync(config, opts.bootstrap, { mode: 0o644 });
  const parsed = load(opts.bootstrap) as { admin?: { address?: { socket_address?: { address?: string; port_value?: number } } } };
  const sa = parsed.admin?.address?.socket_address ?? {};
  const admin = { address: String(sa.address ?? "127.0.0.1"), port: Number(sa.port_value ?? 0) };
  // Admin on port 0: Envoy writes the address it bound to --admin-address-path; requests read it from there.
  const addressPath = join(dir, "admin-address");
  const argv = [envoyBinary(), "-c", config, "-l", opts.logLevel ?? "info", ...(admin.port === 0 ? ["--admin-address-path", addressPath] : []), ...(opts.args ?? [])];
  const asUser = opts.uid !== undefined ? ["setpriv", "--reuid", String(opts.uid), "--regid", String(opts.gid ?? opts.uid), "--clear-groups", "--"] : [];
  const full = opts.netns ? ["ip", "netns", "exec", opts.netns, ...asUser, ...argv] : [...asUser, ...argv];
  const child = spawn(full[0]!, full.slice(1), { env: { ...process.env, PATH: SBIN_PATH }, stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const adminRequest = (path: string, method: "GET" | "POST" = "GET") => {
    if (admin.port === 0) {
      const bound = existsSync(addressPath) ? Number(readFileSync(addressPath, "utf8").trim().split(":").pop()) : 0;
      if (!bound) return Promise.reject(new Error("the admin interface has not written its address yet"));
      admin.port = bound;
    }
    return request(opts.netns, admin, path, method);
  };
  return {
    child,
    admin,
    output: () => out,
    adminRequest,
    exited,
    waitReady: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`envoy exited (${child.exitCode ?? child.signalCode}) before /ready:\n${out}`);
        const r = await adminRequest("/ready").catch((e: Error) => ({ status: 0, body: e.message }));
        if (r.status === 200) return;
        last = `${r.status} ${r.body.trim()}`;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`envoy not ready after ${timeoutMs} ms (last /ready: ${last}):\n${out}`);
    },
    stop: async (signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** One admin request: with fetch, or with curl inside the namespace (the admin address is its loopback). */
async function request(netns: string | undefined, admin: { address: string; port: number }, path: string, method: string): Promise<{ status: number; body: string }> {
  const url = `http://${admin.address}:${admin.port}${path}`;
  if (!netns) {
    const r = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
    return { status: r.status, body: await r.text() };
  }
  const args = ["netns", "exec", netns, "curl", "-sS", "--max-time", "5", "-X", method, "-o", "-", "-w", "\n%{http_code}", url];
  return new Promise((resolve, reject) => {
    const c = spawnPiped("ip", args, { env: { ...process.env, PATH: SBIN_PATH } });
    c.stdin.end();
    let stdout = "";
    let stderr = "";
    c.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    c.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    c.on("error", reject);
    c.on("close", (code) => {
      const nl = stdout.lastIndexOf("\n");
      const status = Number(stdout.slice(nl + 1));
      if (code !== 0 || !status) return reject(new Error(`curl ${url} in ${netns}: ${stderr.trim() || `exit ${code}`}`));
      resolve({ status, body: stdout.slice(0, nl) });
    });
  });
}

// A HostSession (src/ports/hosts.ts) that runs commands inside a test fleet host's network namespace
// (test/support/netns-hosts.ts) with `nsenter --net` (or `ip netns exec`: see inNetns), without SSH: host tasks that need root (iptables)
// can be tested before, and independently of, the ssh adapter. The file system is the machine's, as
// for the fleet's hosts, so putFile is a local copy.
//
// By default commands run as root, like an ssh session that logs in as root. `user` runs them as that
// uid/gid instead (setpriv, supplementary groups cleared), like a session of an unprivileged login user.
import { chown, copyFile } from "node:fs/promises";
import { spawnPiped } from "../../src/adapters/process/spawn.js";
import type { SshModel } from "../../src/model/index.js";
import { TransportError, type ExecOptions, type ExecResult, type HostRef, type HostSession } from "../../src/ports/hosts.js";
import { inNetns, type TestFleet } from "./netns-hosts.js";

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`;

export interface NetnsSessionOptions {
  /** Host group of the HostRef (default `test`). */
  group?: string;
  /** Run every command as this uid/gid instead of root. */
  user?: { uid: number; gid: number };
  /** Default command timeout (default 30 000 ms). */
  timeoutMs?: number;
}

/** A session on fleet host i: `exec` runs argv (no shell) in the host's network namespace. */
export function netnsSession(fleet: TestFleet, i: number, opts: NetnsSessionOptions = {}): HostSession {
  const h = fleet.hosts[i];
  if (!h) throw new Error(`no host ${i} (fleet has ${fleet.hosts.length})`);
  const ssh: SshModel = { user: opts.user ? h.user : "root", port: h.sshPort, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null };
  const host: HostRef = { group: opts.group ?? "test", host: h.name, address: h.address, transport: "ssh", ssh, baseDir: h.baseDir };

  const asUser = opts.user ? ["setpriv", "--reuid", String(opts.user.uid), "--regid", String(opts.user.gid), "--clear-groups", "--"] : [];
  let closed = false;

  const exec = (argv: string[], o: ExecOptions = {}): Promise<ExecResult> => {
    if (closed) return Promise.reject(new TransportError(h.name, "session closed", "closed"));
    if (argv.length === 0) return Promise.reject(new TransportError(h.name, "empty command", "io"));
    if (o.signal?.aborted) return Promise.reject(new TransportError(h.name, "aborted", "aborted"));
    return new Promise((resolve, reject) => {
      const [bin, ...args] = [...inNetns(h.netns), ...asUser, ...argv];
      const child = spawnPiped(bin as string, args, { env: { ...process.env, PATH: SBIN_PATH, LC_ALL: "C" } });
      let stdout = "";
      let stderr = "";
      let failure: TransportError | undefined;
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        o.onStdout?.(d);
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        o.onStderr?.(d);
      });
      const timeoutMs = o.timeoutMs ?? opts.timeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        failure = new TransportError(h.name, `command timed out after ${timeoutMs} ms: ${argv[0]}`, "timeout");
        child.kill("SIGKILL");
      }, timeoutMs);
      const onAbort = () => {
        failure = new TransportError(h.name, "aborted", "aborted");
        child.kill("SIGKILL");
      };
      o.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", onAbort);
      };
      child.on("error", (err) => {
        done();
        reject(new TransportError(h.name, `cannot run ${bin}: ${err.message}`, "io"));
      });
      child.on("close", (code) => {
        done();
        if (failure) reject(failure);
        else resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.on("error", () => {}); // the command may exit without reading its input
      child.stdin.end(o.stdin ?? "");
    });
  };

  return {
    host,
    exec,
    putFile: async (localPath, remotePath, o) => {
      if (o?.signal?.aborted) throw new TransportError(h.name, "aborted", "aborted");
      try {
        await copyFile(localPath, remotePath);
        if (opts.user) await chown(remotePath, opts.user.uid, opts.user.gid);
      } catch (e) {
        throw new TransportError(h.name, `cannot copy ${localPath} to ${remotePath}: ${(e as Error).message}`, "io");
      }
    },
    close: async () => {
      closed = true;
    },
  };
}

// Runs test/xds/support/xds-client.ts as a child process bootstrapped at one ADS server, and sends it commands.
import { spawn, type ChildProcess } from "node:child_process";
import * as readline from "node:readline";
import { runnable } from "../../support/node-script.js";

const SCRIPT = runnable(new URL("./xds-client.ts", import.meta.url));

/** A proxyless gRPC client process. */
export class XdsClientProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (v: any) => void>();
  private nextId = 1;
  stderr = "";

  constructor(adsPort: number, nodeId: string) {
    const bootstrap = {
      xds_servers: [{ server_uri: `127.0.0.1:${adsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
      node: { id: nodeId, locality: {} },
    };
    this.child = spawn(process.execPath, [...SCRIPT.execArgv, SCRIPT.path], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr!.on("data", (d) => (this.stderr += String(d)));
    // A command written after the client died fails with EPIPE: send() rejects with its exit and stderr instead.
    this.child.stdin!.on("error", () => {});
    readline.createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line);
      this.pending.get(msg.id)?.(msg);
      this.pending.delete(msg.id);
    });
  }

  /** One call to `target` with a long deadline (a safety net), to wait while the client resolves it over xDS and
   * connects: a first call pays for the ADS round trips and the connection, which took over the 10 s default
   * deadline on a loaded machine. Its outcome is returned, not judged (a test may call a failing instance). */
  warm(target: string, deadlineMs = 60_000): Promise<{ by: Record<string, number>; errors: Record<string, number>; ms: number[] }> {
    return this.calls(target, 1, deadlineMs);
  }

  /** `n` calls one after the other: which server answered each, and the error codes. */
  calls(target: string, n: number, deadlineMs = 10_000): Promise<{ by: Record<string, number>; errors: Record<string, number>; ms: number[] }> {
    return this.send({ op: "calls", target, n, deadlineMs });
  }

  /** `n` calls started `spacingMs` apart, each without waiting for the others. */
  parallel(target: string, n: number, spacingMs: number, deadlineMs = 10_000): Promise<{ by: Record<string, number>; errors: Record<string, number>; ms: number[] }> {
    return this.send({ op: "parallel", target, n, spacingMs, deadlineMs });
  }

  /** Calls one after the other for `durationMs`, each starting at least `spacingMs` after the one before (20 ms: the
   * tests poll what they compare the calls with as often, and judge in seconds): [time, server id or `!<code>`] each. */
  watch(target: string, durationMs: number, deadlineMs = 2000, spacingMs = 20): Promise<{ log: [number, string][] }> {
    return this.send({ op: "watch", target, durationMs, deadlineMs, spacingMs });
  }

  private send(cmd: object): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`xds client exited (${code}): ${this.stderr}`));
      // Already gone: its exit event will not come again.
      if (this.child.exitCode !== null || this.child.signalCode !== null) return exited(this.child.exitCode);
      // The exit listener lives as long as the command: one per answered command would pile up on a client that
      // answers hundreds (node warned of a leak past 10).
      this.pending.set(id, (v) => {
        this.child.off("exit", exited);
        resolve(v);
      });
      this.child.once("exit", exited);
      this.child.stdin!.write(JSON.stringify({ id, ...cmd }) + "\n");
    });
  }

  /** Ends the process (closing stdin lets it close its channels and exit). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
}

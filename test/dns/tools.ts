// Real DNS programs for mesh-dns tests: a dnsmasq upstream started per test file, `dig` as a client, and
// free ports. Everything started here is stopped by the caller (`stop()`), by pid.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runPiped } from "../../src/adapters/process/spawn.js";
import { freePort as reservePort } from "../support/ports.js";

/** A port free for both UDP and TCP on 127.0.0.1, reserved for this process. */
export const freePort = (): Promise<number> => reservePort("127.0.0.1", { udp: true });

/** A running dnsmasq. */
export interface Dnsmasq {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `dnsmasq --no-daemon` on 127.0.0.1 (a free port) with `args` added, no upstreams of its own.
 * Resolves once it reports "started". */
export async function startDnsmasq(args: string[]): Promise<Dnsmasq> {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "amphi-dnsmasq-"));
    const child = spawn(
      "dnsmasq",
      ["--no-daemon", `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", `--pid-file=${join(dir, "pid")}`, ...args],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } },
    );
    const started = await new Promise<boolean>((resolve) => {
      let err = "";
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("started, version")) resolve(true);
      });
      child.once("exit", () => resolve(false));
      child.once("error", () => resolve(false));
    });
    const stop = (): Promise<void> => stopChild(child).then(() => rmSync(dir, { recursive: true, force: true }));
    if (started) return { port, pid: child.pid!, stop };
    await stop();
    if (tries >= 5) throw new Error("dnsmasq did not start");
  }
}

/** SIGTERM, then SIGKILL after 2 s; resolves when the process is gone. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), 2000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** What dig printed, read back. */
export interface DigResult {
  status: string;
  flags: string[];
  /** Answer records: [name, ttl, class, type, data]. */
  answers: string[][];
  /** The EDNS line's udp size, when there is one. */
  udp: number | null;
  msgSize: number | null;
  raw: string;
}

/** Runs `dig @127.0.0.1 -p PORT …args` (one try, `time` seconds) and reads its output. Asynchronous: the
 * server under test runs in this process. */
export async function dig(port: number, args: string[], time = 2, server = "127.0.0.1"): Promise<DigResult> {
  const r = await runPiped("dig", [`@${server}`, "-p", String(port), "+tries=1", `+time=${time}`, ...args], { timeoutMs: (time + 5) * 1000 });
  const raw = `${r.stdout.toString("utf8")}${r.stderr.toString("utf8")}`;
  const status = /status: (\w+)/.exec(raw)?.[1] ?? "NONE";
  const flags = (/;; flags: ([^;]*);/.exec(raw)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(raw)?.[1] ?? "";
  const answers = section.split("\n").filter((l) => l && !l.startsWith(";")).map((l) => l.split(/\s+/));
  const udp = /udp: (\d+)/.exec(raw);
  const size = /MSG SIZE\s+rcvd: (\d+)/.exec(raw);
  return { status, flags, answers, udp: udp ? Number(udp[1]) : null, msgSize: size ? Number(size[1]) : null, raw };
}

/** The batched-UDP addon for tests: built if missing or stale (scripts/build-native.mjs; atomic, so files running
 * at once may both build). `skip` is the reason it could not be built, or false; in CI (CI=true) a missing addon
 * is a failure, not a skip. */
export function batchAddon(): { path: string; skip: string | false } {
  const root = new URL("../../", import.meta.url).pathname;
  const path = join(root, "build", "native", "udp-batch.node");
  // Its real path: in the compiled test tree scripts/ is a link, and the script builds only when run as itself.
  const r = spawnSync(process.execPath, [realpathSync(join(root, "scripts", "build-native.mjs")), "--quiet"], { encoding: "utf8" });
  const why = r.stderr.match(/not built: (.*)/)?.[1];
  if (!why) return { path, skip: false };
  if (process.env.CI === "true") throw new Error(`the batched UDP addon could not be built: ${why}`);
  return { path, skip: `batched UDP addon not built: ${why}` };
}

/** Compiles the addon's source into `out` with `extra` compiler flags (scripts/build-native.mjs's compileAddon):
 * null, or why it failed. */
export async function compileAddon(out: string, extra: string[]): Promise<string | null> {
  const root = new URL("../../", import.meta.url).pathname;
  const mod = (await import(join(root, "scripts", "build-native.mjs"))) as { compileAddon: (out: string, o: { extra: string[] }) => string | null };
  return mod.compileAddon(out, { extra });
}

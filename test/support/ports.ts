// Free ports for tests that start servers on this machine's addresses (127.0.0.1 or a bridge address).
//
// "Bind port 0, read it, close it" hands out a port from the kernel's ephemeral range, and the kernel
// hands the same range to every other `listen(0)` and every outgoing connection on the machine: between
// the close and the moment the app under test binds it, another test file's client or server can take
// it (CI saw `port 34195 is held by pid … apply-ssh.test.js` in the demo). So a test port here comes from
// below the ephemeral range, which the kernel never gives out by itself, and is reserved across processes
// by a lock file created with O_EXCL under a per-user dir, holding the owner's pid. A lock whose pid is
// gone is taken over; a process's locks are removed when it exits. The port must also bind (TCP, and UDP
// when asked) right now, so a port some other program holds is skipped.
import { createSocket } from "node:dgram";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const LOCKS = join(tmpdir(), `amphi-test-ports-${process.getuid?.() ?? "u"}`);
const held: string[] = [];
let cleanupInstalled = false;

/** Ports the kernel does not hand out on its own: [low, high] below net.ipv4.ip_local_port_range. */
function reservedRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: keep the usual default
  }
  const high = Math.min(ephemeralLow - 1, 32767);
  const low = Math.max(10_000, high - 20_000);
  if (high - low < 1000) throw new Error(`test ports: the ephemeral range starts at ${ephemeralLow}, leaving no room below it`);
  return [low, high];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the lock file for `port`, or takes over one left by a dead process; false when a live one holds it
 * (exported for its test). */
export function lock(port: number): boolean {
  const file = join(LOCKS, String(port));
  if (create(file)) return true;
  const owner = ownerOf(file);
  // An empty file is a lock being written right now: leave it to its writer; a live owner keeps its port.
  if (owner === null || alive(owner)) return false;
  // Taking over is itself locked, per dead owner: only the process that creates `<port>.<pid>.takeover` may replace
  // the lock, and only while it still names that dead pid (another taker may have finished already). Removing the
  // lock and creating it again instead would let two takers both end up holding the port.
  const marker = `${file}.${owner}.takeover`;
  if (!create(marker)) return false;
  try {
    if (ownerOf(file) !== owner) return false;
    const mine = `${file}.${process.pid}.new`;
    writeFileSync(mine, String(process.pid), { mode: 0o600 });
    renameSync(mine, file);
    held.push(file);
    return true;
  } finally {
    unlock(marker);
  }
}

/** Creates `file` holding this process's pid, unless it exists. */
function create(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    writeSync(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
  if (!file.endsWith(".takeover")) held.push(file);
  return true;
}

/** The pid a lock file names, or null when it is gone, empty or not a pid. */
function ownerOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8"));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function unlock(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function canBind(port: number, host: string, udp: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const tcp = createServer();
    tcp.once("error", () => resolve(false));
    tcp.listen({ port, host, exclusive: true }, () => {
      if (!udp) return tcp.close(() => resolve(true));
      const sock = createSocket("udp4");
      sock.once("error", () => {
        sock.close();
        tcp.close(() => resolve(false));
      });
      sock.bind(port, host, () => sock.close(() => tcp.close(() => resolve(true))));
    });
  });
}

/** A port on `host` that no other test process holds and nothing listens on right now; it stays this
 * process's until the process exits. `udp`: it must be free for UDP too (DNS servers). */
export async function freePort(host = "127.0.0.1", opts: { udp?: boolean } = {}): Promise<number> {
  mkdirSync(LOCKS, { recursive: true, mode: 0o700 });
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.once("exit", () => held.forEach(unlock));
  }
  const [low, high] = reservedRange();
  for (let tries = 0; tries < 500; tries++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (!lock(port)) continue;
    if (await canBind(port, host, opts.udp ?? false)) return port;
    // something outside the tests holds it: keep the lock (so no other test tries it) and pick again
  }
  throw new Error(`test ports: no free port on ${host} in ${low}-${high} after 500 tries (lock dir ${LOCKS})`);
}

// The original destination of a connection that iptables REDIRECTed to a listener: what Envoy's
// `envoy.filters.listener.original_dst` reads with getsockopt(SOL_IP, SO_ORIGINAL_DST) on the accepted socket.
// Node has no getsockopt, so a small perl program asks the kernel about that very socket — no table lookup by
// address, so the answer is right under any concurrency, and no privilege is needed (conntrack's netlink would
// need CAP_NET_ADMIN, which the proxy uid has not). perl-base is on every Debian/Ubuntu system.
//
// Fast path: one perl process for the double's life, which takes a copy of each socket from this process with
// pidfd_getfd(2) (Linux 5.6+; allowed because it runs as the same uid) and answers in request order. Where that is
// not allowed (an older kernel, a seccomp filter), each lookup spawns perl with the socket as its fd 3.
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { log } from "./log.js";

// SOL_IP = 0, SO_ORIGINAL_DST = 80; the answer is a struct sockaddr_in (family LE, port BE, 4 address bytes).
const ANSWER = String.raw`my $v = getsockopt($s, 0, 80); if (defined $v) { my ($f, $port, @a) = unpack("vnC4", $v); print join(".", @a), " $port\n" } else { print "none $!\n" }`;
const ONE_SHOT = String.raw`open(my $s, "+<&=3") or die "fd 3: $!\n"; ` + ANSWER;
// pidfd_open = 434, pidfd_getfd = 438 (the same number on every architecture).
const SERVER =
  String.raw`$| = 1; my $pid = shift @ARGV; my $pidfd = syscall(434, $pid + 0, 0); if ($pidfd < 0) { print "unavailable $!\n"; exit 0 } print "ok\n"; ` +
  String.raw`while (my $line = <STDIN>) { chomp $line; my $fd = syscall(438, $pidfd, $line + 0, 0); if ($fd < 0) { print "error $!\n"; next } ` +
  String.raw`if (!open(my $s, "+<&=", $fd)) { print "error $!\n"; next } else { ` + ANSWER + ` close($s) } }`;

/** A destination address and port. */
export interface Destination {
  address: string;
  port: number;
}

interface Helper {
  child: ChildProcess;
  waiting: ((line: string) => void)[];
}

let helper: Promise<Helper | null> | null = null;

/** The connection's original destination; its local address when it was not redirected (as Envoy does). */
export async function originalDestination(socket: Socket): Promise<Destination> {
  const local = { address: (socket.localAddress ?? "").replace(/^::ffff:/, ""), port: socket.localPort ?? 0 };
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const h = typeof fd === "number" && fd >= 0 ? await (helper ??= startHelper()) : null;
  const line = h ? await ask(h, fd!) : await oneShot(socket);
  const m = /^(\d+\.\d+\.\d+\.\d+) (\d+)$/.exec(line);
  if (m) return { address: m[1]!, port: Number(m[2]) };
  // No conntrack entry (or IPv6): the connection was not redirected; its destination is the local address.
  if (line.startsWith("none")) return local;
  throw new Error(`original_dst: ${line}`);
}

function ask(h: Helper, fd: number): Promise<string> {
  return new Promise((resolve) => {
    h.waiting.push(resolve);
    h.child.stdin!.write(`${fd}\n`);
  });
}

function startHelper(): Promise<Helper | null> {
  return new Promise((resolve) => {
    const child = spawn("perl", ["-e", SERVER, String(process.pid)], { stdio: ["pipe", "pipe", "pipe"] });
    const h: Helper = { child, waiting: [] };
    let buf = "";
    let started = false;
    child.on("error", () => resolve(null));
    child.stdin!.on("error", () => {});
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!started) {
          started = true;
          if (line !== "ok") log("info", "filter", `original_dst: pidfd_getfd not available (${line}); one perl per connection`);
          resolve(line === "ok" ? h : null);
        } else h.waiting.shift()?.(line);
      }
    });
    child.on("exit", () => {
      helper = null;
      for (const w of h.waiting.splice(0)) w("error original_dst helper exited");
      if (!started) resolve(null);
    });
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
  });
}

function oneShot(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("perl", ["-e", ONE_SHOT], { stdio: ["ignore", "pipe", "pipe", socket] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => resolve(`error cannot run perl: ${e.message}`));
    child.on("close", (code) => resolve(out.trim() || `error ${err.trim() || `perl exited ${code}`}`));
  });
}

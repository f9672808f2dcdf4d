// bench/hosts/ssh-latency: what one SSH round trip costs through the ssh adapter, against one real
// sshd in a network namespace (test/support/netns-hosts.ts; needs root).
// Usage: node --import tsx bench/hosts/ssh-latency.ts [commands=200] [connects=20]
// Prints one line per scenario: connect time; `true` per command with TCP_NODELAY on and off on one
// reused connection (median, p95), and their ratio; a 5 MB putFile.
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SshConnector } from "../../src/adapters/ssh/index.js";
import type { HostRef } from "../../src/ports/hosts.js";
import { fleetSupported, startFleet } from "../../test/support/netns-hosts.js";

const commands = Number(process.argv[2] ?? 200);
const connects = Number(process.argv[3] ?? 20);

const support = fleetSupported();
if (!support.ok) {
  console.error(`bench/hosts/ssh-latency: sshd test hosts unavailable: ${support.reason}`);
  process.exit(2);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const ms = (n: number) => `${n.toFixed(2).padStart(7)} ms`;

function line(label: string, samples: number[]): { median: number } {
  const s = [...samples].sort((a, b) => a - b);
  console.log(`${label.padEnd(46)} median ${ms(pct(s, 0.5))}  p95 ${ms(pct(s, 0.95))}  min ${ms(s[0]!)}  max ${ms(s[s.length - 1]!)}  (n=${s.length})`);
  return { median: pct(s, 0.5) };
}

const fleet = await startFleet({ count: 1, prefix: "bench" });
try {
  const h = fleet.hosts[0]!;
  const host: HostRef = {
    group: "bench",
    host: h.name,
    address: h.address,
    transport: "ssh",
    baseDir: h.baseDir,
    ssh: { user: h.user, port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: fleet.knownHostsPath, proxyJump: null },
  };
  console.log(`bench/hosts/ssh-latency: 1 sshd host (netns), ${commands} sequential commands, ${connects} connects, node ${process.version}`);

  const connectMs: number[] = [];
  for (let i = 0; i < connects + 1; i++) {
    const c = new SshConnector();
    const t0 = performance.now();
    await c.open(host);
    if (i > 0) connectMs.push(performance.now() - t0); // the first warms the crypto code paths
    await c.closeAll();
  }
  line("connect (TCP + handshake + publickey auth)", connectMs);

  const perCommand = async (noDelay: boolean) => {
    const c = new SshConnector({ noDelay });
    try {
      const s = await c.open(host);
      for (let i = 0; i < 10; i++) await s.exec(["true"]); // warm-up
      const out: number[] = [];
      for (let i = 0; i < commands; i++) {
        const t0 = performance.now();
        const r = await s.exec(["true"]);
        out.push(performance.now() - t0);
        if (r.code !== 0) throw new Error(`true exited ${r.code}: ${r.stderr}`);
      }
      return out;
    } finally {
      await c.closeAll();
    }
  };
  const on = line("exec `true`, one connection, TCP_NODELAY on", await perCommand(true));
  const off = line("exec `true`, one connection, TCP_NODELAY off", await perCommand(false));
  console.log(`${"ratio off / on (median)".padEnd(46)} ${(off.median / on.median).toFixed(1)}x`);

  const c = new SshConnector();
  try {
    const s = await c.open(host);
    const local = join(fleet.tmpDir, "payload.bin");
    const data = randomBytes(5 * 1024 * 1024);
    writeFileSync(local, data);
    const samples: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      await s.putFile(local, join(h.baseDir, "payload.bin"));
      if (i > 0) samples.push(performance.now() - t0);
    }
    const sum = (await s.exec(["sha256sum", join(h.baseDir, "payload.bin")])).stdout.split(" ")[0];
    if (sum !== createHash("sha256").update(data).digest("hex")) throw new Error("putFile: sha256 mismatch");
    line("putFile 5 MB (exec `cat` + mv, TCP_NODELAY on)", samples);
  } finally {
    await c.closeAll();
  }
} finally {
  await fleet.cleanup();
}

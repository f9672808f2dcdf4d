// bench/spawn: what starting one short child costs the parent, by the parent's size: child_process.spawn (fork)
// against spawnPiped through the posix_spawn addon (src/adapters/process/spawn.ts). The parent holds SIZE MB and
// writes one byte per 32 KiB of it between two spawns (as a heap's collector does), then starts /bin/true with
// three pipes and waits for `close`. Printed per size and way: the parent's CPU (user + sys) per child and the wall
// time per child, medians of ROUNDS rounds. The addon is built first (scripts/build-native.mjs).
// Usage: node --import tsx bench/spawn/run.ts [sizes=0,100,300] [children=100] [rounds=3]
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { spawnAddon, spawnPiped, type PipedChild } from "../../src/adapters/process/spawn.js";

const sizes = (process.argv[2] ?? "0,100,300").split(",").map(Number);
const children = Number(process.argv[3] ?? 100);
const rounds = Number(process.argv[4] ?? 3);
const root = join(import.meta.dirname, "..", "..");
spawnSync(process.execPath, [join(root, "scripts", "build-native.mjs"), "--quiet"], { stdio: "inherit" });
const loaded = spawnAddon();
if ("error" in loaded) {
  console.error(`bench/spawn: the addon is not available (${loaded.error})`);
  process.exit(1);
}

const ways: Record<string, () => PipedChild> = {
  "child_process.spawn": () => spawn("/bin/true", [], { stdio: ["pipe", "pipe", "pipe"] }) as PipedChild,
  "spawnPiped (addon)": () => spawnPiped("/bin/true", []),
};

function once(start: () => PipedChild): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = start();
    c.on("error", reject);
    c.stdin.end();
    c.stdout.resume();
    c.stderr.resume();
    c.on("close", () => resolve());
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${children} children per round, median of ${rounds} rounds (parent's CPU per child, wall per child)`);
for (const mb of sizes) {
  const held = Array.from({ length: mb }, () => Buffer.alloc(1 << 20, 1));
  const touch = (): void => {
    for (const b of held) for (let o = 0; o < b.length; o += 32768) b[o]!++;
  };
  for (const [name, start] of Object.entries(ways)) {
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < children; i++) {
        await once(start);
        touch();
      }
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000 / children);
      wall.push((performance.now() - w0) / children);
    }
    console.log(`${String(mb).padStart(5)} MB  ${name.padEnd(20)} CPU ${median(cpu).toFixed(2).padStart(7)} ms  wall ${median(wall).toFixed(2).padStart(7)} ms`);
  }
}

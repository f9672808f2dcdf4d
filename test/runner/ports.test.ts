// Test ports (test/support/ports.ts): a lock left by a dead process is taken over, by one taker only; a live
// owner's lock and one being taken over by another process are left alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, lock, LOCKS } from "../support/ports.js";

/** A pid no process has now (a child that ran and was reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "0"]);
  assert.equal(r.status, 0);
  return r.pid!;
}

// Names far outside the range freePort uses, so no other test process ever looks at them.
const ports = [1, 2, 3, 4].map((n) => 60_000 + ((process.pid * 4 + n) % 5000));
test("a dead owner's lock is taken over; a live owner's, or one another process is taking over, is not", () => {
  mkdirSync(LOCKS, { recursive: true, mode: 0o700 });
  const [deadTaken, liveKept, markerKept, fresh] = ports as [number, number, number, number];
  try {
    const dead = deadPid();
    writeFileSync(join(LOCKS, String(deadTaken)), String(dead));
    assert.equal(lock(deadTaken), true);
    assert.equal(readFileSync(join(LOCKS, String(deadTaken)), "utf8"), String(process.pid));
    assert.equal(existsSync(join(LOCKS, `${deadTaken}.${dead}.takeover`)), false, "the takeover marker is gone");
    assert.equal(lock(deadTaken), false, "held now: by this process, which is alive");

    writeFileSync(join(LOCKS, String(liveKept)), String(process.ppid));
    assert.equal(lock(liveKept), false);
    assert.equal(readFileSync(join(LOCKS, String(liveKept)), "utf8"), String(process.ppid));

    const other = deadPid();
    writeFileSync(join(LOCKS, String(markerKept)), String(other));
    writeFileSync(join(LOCKS, `${markerKept}.${other}.takeover`), "1");
    assert.equal(lock(markerKept), false, "another taker holds the takeover");
    assert.equal(readFileSync(join(LOCKS, String(markerKept)), "utf8"), String(other));

    assert.equal(lock(fresh), true);
    assert.equal(readFileSync(join(LOCKS, String(fresh)), "utf8"), String(process.pid));
  } finally {
    for (const p of ports) rmSync(join(LOCKS, String(p)), { force: true });
    for (const f of readdirSync(LOCKS)) if (f.startsWith(`${markerKept}.`)) rmSync(join(LOCKS, f), { force: true });
  }
});

test("freePort gives ports below the kernel's ephemeral range, each to one caller", async () => {
  const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  const got = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  assert.equal(new Set(got).size, got.length, `no port twice: ${got.join(" ")}`);
  for (const p of got) {
    assert.ok(p < low, `${p} is below ${low}`);
    assert.equal(readFileSync(join(LOCKS, String(p)), "utf8"), String(process.pid));
  }
});

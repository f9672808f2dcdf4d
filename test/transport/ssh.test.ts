// The ssh adapter against real OpenSSH servers: a fleet of 3 sshd hosts, each in its own network
// namespace (test/support/netns-hosts.ts). Skipped where namespaces are unavailable, except in CI.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SshConnector, type SshConnectorOptions } from "../../src/adapters/ssh/index.js";
import type { SshModel } from "../../src/model/index.js";
import { TransportError, type HostRef, type HostSession } from "../../src/ports/hosts.js";
import { fleetSupported, startFleet, type TestFleet } from "../support/netns-hosts.js";
import { runnable } from "../support/node-script.js";
import { spawnSync } from "../support/spawn.js";

const support = fleetSupported();
// In CI (root, packages from scripts/install-test-deps.sh) these tests must run: fail, don't skip.
const skip = support.ok ? false : process.env.CI === "true" ? false : `sshd test hosts unavailable: ${support.reason}`;

let fleet: TestFleet;

/** HostRef for fleet host i; `ssh` fields override the defaults (test user, fleet key, port 22). */
function ref(i: number, ssh: Partial<SshModel> = {}, group = "g"): HostRef {
  const h = fleet.hosts[i]!;
  return {
    group,
    host: h.name,
    address: h.address,
    transport: "ssh",
    baseDir: h.baseDir,
    ssh: { user: h.user, port: 22, identityFile: fleet.privateKeyPath, knownHostsFile: null, proxyJump: null, ...ssh },
  };
}

/** Runs `fn` with a connector on the fleet's known_hosts, closing every session afterwards. */
async function withConnector<T>(fn: (c: SshConnector) => Promise<T>, opts: SshConnectorOptions = {}): Promise<T> {
  const c = new SshConnector({ knownHostsFile: fleet.knownHostsPath, ...opts });
  try {
    return await fn(c);
  } finally {
    await c.closeAll();
  }
}

/** Established SSH connections from the test process (root veth) to host i, seen in its namespace. */
async function sshConnections(i: number): Promise<number> {
  const r = await fleet.execOnHost(i, ["ss", "-Htn", "state", "established", "( sport = :22 )"]);
  return r.stdout.split("\n").filter((l) => l.includes(fleet.rootAddress)).length;
}

async function rejects(p: Promise<unknown>, kind: TransportError["kind"], re: RegExp): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransportError, `not a TransportError: ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a ${kind} TransportError`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ssh adapter on 3 sshd hosts", { skip }, () => {
  before(async () => {
    if (!support.ok) assert.fail(`CI=true but sshd test hosts are unavailable: ${support.reason}`);
    fleet = await startFleet({ count: 3 });
  });
  after(async () => {
    await fleet?.cleanup();
  });

  it("runs argv verbatim as the test user and as root", async () => {
    await withConnector(async (c) => {
      const nasty = "a 'b' $c; d\n";
      for (const user of [fleet.hosts[0]!.user, "root"]) {
        const s = await c.open(ref(0, { user }));
        assert.deepEqual(await s.exec(["printf", "%s", nasty]), { code: 0, stdout: nasty, stderr: "" });
        assert.equal((await s.exec(["id", "-un"])).stdout, `${user}\n`);
        const args = ["x y", "`id`", "$(id)", "*", "", "é"];
        assert.deepEqual((await s.exec(["printf", "%s\\0", ...args])).stdout.split("\0").slice(0, -1), args);
      }
    });
  });

  it("writes stdin and closes it", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(0));
      assert.equal((await s.exec(["cat"], { stdin: "line 1\nline 2\n" })).stdout, "line 1\nline 2\n");
      const bytes = randomBytes(200_000);
      const r = await s.exec(["sha256sum"], { stdin: bytes });
      assert.equal(r.stdout.split(" ")[0], createHash("sha256").update(bytes).digest("hex"));
      assert.equal((await s.exec(["cat"])).stdout, "", "no stdin → EOF at once");
    });
  });

  it("resolves non-zero exits with their code and output", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(0));
      assert.deepEqual(await s.exec(["sh", "-c", "echo out; echo err >&2; exit 3"]), { code: 3, stdout: "out\n", stderr: "err\n" });
      assert.equal((await s.exec(["false"])).code, 1);
      assert.equal((await s.exec(["no-such-command-amphi"])).code, 127);
      // The login shell that sshd started (`sh -c <command line>`) dies by a signal: exit-signal.
      const killed = await s.exec(["sh", "-c", "kill -TERM $PPID"]);
      await assert.rejects(s.exec([]), /empty argv/, "rejects, does not throw");
      assert.equal(killed.code, 143);
      assert.match(killed.stderr, /killed by signal TERM/);
    });
  });

  it("streams output while the command runs", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(1));
      const seen: Array<[string, string, number]> = [];
      const t0 = performance.now();
      const r = await s.exec(["sh", "-c", "echo first; sleep 0.4; echo second; echo oops >&2"], {
        onStdout: (chunk) => seen.push(["out", chunk, performance.now() - t0]),
        onStderr: (chunk) => seen.push(["err", chunk, performance.now() - t0]),
      });
      const total = performance.now() - t0;
      assert.equal(seen.filter(([k]) => k === "out").map(([, c]) => c).join(""), r.stdout);
      assert.equal(seen.filter(([k]) => k === "err").map(([, c]) => c).join(""), "oops\n");
      assert.equal(seen[0]?.[1], "first\n");
      assert.ok(seen[0]![2] < total - 300, `first chunk at ${seen[0]![2].toFixed(0)} ms of ${total.toFixed(0)} ms`);
    });
  });

  it("reuses one TCP connection per host: 100 execs, repeated and concurrent opens", async () => {
    await withConnector(async (c) => {
      const before = await sshConnections(2);
      const sessions = await Promise.all([c.open(ref(2)), c.open(ref(2)), c.open(ref(2))]);
      assert.ok(sessions.every((s) => s === sessions[0]), "concurrent opens share one session");
      const s = sessions[0]!;
      assert.equal(await c.open(ref(2)), s, "a later open returns the open session");
      const clients = new Set<string>();
      for (let i = 0; i < 100; i++) clients.add((await s.exec(["sh", "-c", 'echo "$SSH_CLIENT"'])).stdout);
      assert.equal(clients.size, 1, `source ports: ${[...clients].join(", ")}`);
      assert.equal(await sshConnections(2), before + 1, "one new TCP connection to host2");
    });
  });

  it("bounds concurrent channels per connection", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(1));
      const dir = join(fleet.hosts[1]!.baseDir, `chan-${randomBytes(3).toString("hex")}`);
      await s.exec(["mkdir", dir]);
      const script = 'touch "$1/$$"; sleep 0.15; ls "$1" | wc -l; rm "$1/$$"';
      const runs = await Promise.all(Array.from({ length: 24 }, () => s.exec(["sh", "-c", script, "sh", dir])));
      assert.ok(runs.every((r) => r.code === 0));
      const peak = Math.max(...runs.map((r) => Number(r.stdout.trim())));
      assert.ok(peak <= 8 && peak >= 2, `peak concurrency ${peak}`);
    });
  });

  it("times a command out, kills it, and keeps the session usable", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(0));
      const t0 = performance.now();
      await rejects(s.exec(["sleep", "10"], { timeoutMs: 300 }), "timeout", /^host0: command timed out after 0\.3s: sleep 10$/);
      assert.ok(performance.now() - t0 < 1000, `took ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal((await s.exec(["echo", "still here"])).stdout, "still here\n");
      // KILL reached the command's process group: no `sleep 10` left on the host.
      let left = "";
      for (let i = 0; i < 20; i++) {
        left = (await fleet.execOnHost(0, ["pgrep", "-fx", "sleep 10"])).stdout;
        if (left === "") break;
        await sleep(50);
      }
      assert.equal(left, "", "sleep survived the timeout");
    }, { commandTimeoutMs: 60_000 });
  });

  it("uses the connector's default command timeout", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(0));
      await rejects(s.exec(["sleep", "5"]), "timeout", /timed out after 0\.2s/);
    }, { commandTimeoutMs: 200 });
  });

  it("aborts a command on its signal", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(0));
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const t0 = performance.now();
      await rejects(s.exec(["sleep", "10"], { signal: ac.signal }), "aborted", /^host0: command aborted: sleep 10$/);
      assert.ok(performance.now() - t0 < 1000);
      await rejects(s.exec(["true"], { signal: ac.signal }), "aborted", /aborted/);
      assert.equal((await s.exec(["true"])).code, 0);
    });
  });

  it("copies a 5 MB file atomically with the same sha256", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(1));
      const local = join(fleet.tmpDir, "payload.bin");
      const data = randomBytes(5 * 1024 * 1024);
      writeFileSync(local, data);
      const remote = join(fleet.hosts[1]!.baseDir, "pkg it's here.bin");
      await s.putFile(local, remote);
      const r = await s.exec(["sha256sum", remote]);
      assert.equal(r.stdout.split(" ")[0], createHash("sha256").update(data).digest("hex"));
      assert.equal((await s.exec(["sh", "-c", 'ls "$1" | grep -c tmp || true', "sh", fleet.hosts[1]!.baseDir])).stdout, "0\n");
      await rejects(s.putFile(local, "/nonexistent-dir/x"), "io", /putFile \/nonexistent-dir\/x failed \(exit 1\)/);
      await rejects(s.putFile(join(fleet.tmpDir, "missing"), remote), "io", /no such file/);
    });
  });

  describe("host keys", () => {
    const kh = (name: string, text: string) => {
      const file = join(fleet.tmpDir, `kh-${name}-${randomBytes(3).toString("hex")}`);
      writeFileSync(file, text);
      return file;
    };

    it("refuses an unknown host, fail closed", async () => {
      const file = kh("empty", "");
      await withConnector(async (c) => {
        const a = fleet.hosts[0]!.address;
        await rejects(c.open(ref(0)), "hostkey", new RegExp(`^host0: host key for ${a} not in ${file}; add it or run with --accept-new-host-keys$`));
      }, { knownHostsFile: file });
      assert.equal(readFileSync(file, "utf8"), "");
    });

    it("accepts and records a new host with acceptNewHostKeys", async () => {
      const file = kh("new", "# mine\n");
      await withConnector((c) => c.open(ref(1)), { knownHostsFile: file, acceptNewHostKeys: true });
      assert.equal(readFileSync(file, "utf8"), `# mine\n${fleet.hosts[1]!.hostKeyLine}\n`);
      const s = await withConnector(async (c) => (await c.open(ref(1))).exec(["true"]), { knownHostsFile: file });
      assert.equal(s.code, 0, "the recorded key is trusted without acceptNew");
    });

    it("refuses a changed key even with acceptNewHostKeys, naming host, file, line and fingerprints", async () => {
      const [, type, key] = fleet.hosts[2]!.hostKeyLine.split(" ");
      const file = kh("mismatch", `# first\n${fleet.hosts[0]!.address} ${type} ${key}\n`);
      const before = readFileSync(file, "utf8");
      await withConnector(async (c) => {
        const err = await rejects(c.open(ref(0)), "hostkey", /does not match/);
        assert.ok(err.message.startsWith("host0: "));
        assert.ok(err.message.includes(fleet.hosts[0]!.address));
        assert.ok(err.message.includes(`${file}:2 has SHA256:`), err.message);
        assert.match(err.message, /offered SHA256:[A-Za-z0-9+/]{43}\b/);
      }, { knownHostsFile: file, acceptNewHostKeys: true });
      assert.equal(readFileSync(file, "utf8"), before, "nothing appended");
    });

    it("per-group ssh.knownHostsFile wins over the connector's", async () => {
      const file = kh("group", fleet.hosts[0]!.hostKeyLine + "\n");
      await withConnector(async (c) => {
        assert.equal((await (await c.open(ref(0, { knownHostsFile: file }))).exec(["true"])).code, 0);
      }, { knownHostsFile: kh("empty2", "") });
    });

    it("accepts hashed entries (ssh-keygen -H)", async () => {
      const file = kh("hashed", readFileSync(fleet.knownHostsPath, "utf8"));
      const r = spawnSync("ssh-keygen", ["-H", "-f", file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(readFileSync(file, "utf8"), new RegExp(fleet.hosts[0]!.address.replace(/\./g, "\\.")));
      await withConnector(async (c) => {
        for (const i of [0, 1, 2]) assert.equal((await (await c.open(ref(i))).exec(["true"])).code, 0);
      }, { knownHostsFile: file });
    });

    it("refuses a revoked key", async () => {
      const [, type, key] = fleet.hosts[0]!.hostKeyLine.split(" ");
      const file = kh("revoked", `${fleet.hosts[0]!.hostKeyLine}\n@revoked * ${type} ${key}\n`);
      await withConnector((c) => rejects(c.open(ref(0)), "hostkey", /revoked in .*:2/), { knownHostsFile: file, acceptNewHostKeys: true });
    });
  });

  describe("credentials", () => {
    it("names a missing identity file", async () => {
      await withConnector(async (c) => {
        await rejects(c.open(ref(0, { identityFile: "~/.ssh/amphi-missing" })), "auth", /^host0: identity file ~\/\.ssh\/amphi-missing: no such file$/);
      }, { env: { HOME: fleet.tmpDir } });
    });

    it("expands ~ in the identity file with the connector's HOME", async () => {
      await withConnector(async (c) => {
        assert.equal((await (await c.open(ref(0, { identityFile: "~/id_ed25519" }))).exec(["true"])).code, 0);
      }, { env: { HOME: fleet.tmpDir } });
    });

    it("fails clearly without identity file or agent", async () => {
      await withConnector((c) => rejects(c.open(ref(0, { identityFile: null })), "auth", /SSH_AUTH_SOCK is not set/), { env: {} });
    });

    it("reports a key the host does not accept as an auth failure", async () => {
      const key = join(fleet.tmpDir, `other-${randomBytes(3).toString("hex")}`);
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
      const err = await withConnector((c) => rejects(c.open(ref(0, { identityFile: key })), "auth", /authentication as amphitest@.* failed/));
      assert.ok(!err.message.includes(readFileSync(key, "utf8").split("\n")[1]!), "no key material in messages");
    });

    it("refuses an unparsable identity file without echoing it", async () => {
      const key = join(fleet.tmpDir, "garbage-key");
      writeFileSync(key, "not a key SECRET-MARKER\n");
      const err = await withConnector((c) => rejects(c.open(ref(0, { identityFile: key })), "auth", /not a usable private key/));
      assert.doesNotMatch(err.message, /SECRET-MARKER/);
    });
  });

  it("connects through a jump host (ProxyJump)", async () => {
    await withConnector(async (c) => {
      const s = await c.open(ref(1, { proxyJump: `${fleet.hosts[0]!.user}@${fleet.hosts[0]!.address}:22` }));
      const [from] = (await s.exec(["sh", "-c", 'echo "$SSH_CLIENT"'])).stdout.split(" ");
      assert.equal(from, fleet.hosts[0]!.address, "host1 sees the connection coming from host0");
      const s2 = await c.open(ref(2, { proxyJump: fleet.hosts[0]!.address }));
      assert.equal((await s2.exec(["sh", "-c", 'echo "$SSH_CLIENT"'])).stdout.split(" ")[0], fleet.hosts[0]!.address);
      assert.equal(await sshConnections(0), 1, "both targets share one connection to the jump host");
    });
    assert.equal(await sshConnections(0), 0, "closeAll closed the jump connection");
  });

  it("checks the jump host's key too", async () => {
    const file = join(fleet.tmpDir, "kh-jump");
    writeFileSync(file, fleet.hosts[1]!.hostKeyLine + "\n"); // target known, jump host not
    await withConnector(
      (c) => rejects(c.open(ref(1, { proxyJump: fleet.hosts[0]!.address })), "hostkey", /^host1: via jump host amphitest@.*: host key for .* not in/),
      { knownHostsFile: file },
    );
  });

  it("fails within the connect timeout for an unreachable host", async () => {
    await fleet.disconnectHost(2);
    try {
      await withConnector(async (c) => {
        const t0 = performance.now();
        await rejects(c.open(ref(2, {}, "unreachable")), "connect", new RegExp(`^host2: connect to ${fleet.hosts[2]!.address.replace(/\./g, "\\.")}:22 (timed out after 1s|failed: EHOSTUNREACH)$`));
        assert.ok(performance.now() - t0 < 1500, `took ${(performance.now() - t0).toFixed(0)} ms`);
        // Giving up on an open stops the dial at once.
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 100);
        const t1 = performance.now();
        await rejects(c.open(ref(2, {}, "aborted"), ac.signal), "aborted", /^host2: connect aborted$/);
        assert.ok(performance.now() - t1 < 500, `abort took ${(performance.now() - t1).toFixed(0)} ms`);
        await rejects(c.open(ref(2, {}, "aborted"), ac.signal), "aborted", /^host2: connect aborted$/);
      }, { connectTimeoutMs: 1000 });
    } finally {
      await fleet.reconnectHost(2);
    }
  });

  it("survives a host going down mid-command; other hosts keep working; a later open reconnects", async () => {
    await withConnector(async (c) => {
      const sessions: HostSession[] = await Promise.all([0, 1, 2].map((i) => c.open(ref(i, {}, "crash"))));
      const t0 = performance.now();
      const long = rejects(sessions[1]!.exec(["sleep", "30"]), "closed", /^host1: connection to amphitest@[\d.]+:22 lost/);
      await sleep(300);
      await fleet.stopHost(1);
      await long;
      assert.ok(performance.now() - t0 < 3000, `took ${(performance.now() - t0).toFixed(0)} ms`);
      await rejects(sessions[1]!.exec(["true"]), "closed", /^host1: /);
      await sleep(500); // let any late socket error or keepalive fire: the process must not crash
      for (const i of [0, 2]) assert.equal((await sessions[i]!.exec(["echo", "ok"])).stdout, "ok\n");
      await rejects(c.open(ref(1, {}, "crash")), "connect", /ECONNREFUSED/);
      await fleet.startHost(1);
      const again = await c.open(ref(1, {}, "crash"));
      assert.notEqual(again, sessions[1]);
      assert.equal((await again.exec(["true"])).code, 0);
    }, { keepaliveIntervalMs: 100 });
  });

  it("lets the process exit by itself after closeAll", async () => {
    const script = join(fleet.tmpDir, "exit-check.mjs");
    const adapter = runnable(new URL("../../src/adapters/ssh/index.ts", import.meta.url));
    writeFileSync(
      script,
      [
        `import { SshConnector } from ${JSON.stringify(adapter.path)};`,
        `const c = new SshConnector({ knownHostsFile: ${JSON.stringify(fleet.knownHostsPath)} });`,
        `const s = await c.open(${JSON.stringify(ref(0))});`,
        `const r = await s.exec(["echo", "hi"], { timeoutMs: 60000 });`,
        `await c.closeAll();`,
        `console.log(r.stdout.trim());`,
      ].join("\n"),
    );
    const child = spawn(process.execPath, [...adapter.execArgv, script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await Promise.race([new Promise((r) => child.on("exit", r)), sleep(10_000).then(() => "hung")]);
    if (code === "hung") child.kill("SIGKILL");
    assert.equal(code, 0, out);
    assert.equal(out.trim(), "hi");
  });
});

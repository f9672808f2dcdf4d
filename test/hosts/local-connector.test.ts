// LocalConnector: the same argv a host task runs over ssh, spawned on this machine.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalConnector } from "../../src/adapters/local/index.js";
import { TransportError, type HostSession } from "../../src/ports/hosts.js";
import { eventually, killUnder, localRef, processesUnder } from "../support/local-host.js";

describe("LocalConnector", () => {
  let dir: string;
  let connector: LocalConnector;
  let session: HostSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `amphi-local-${process.pid}-`));
    connector = new LocalConnector({ cwd: dir, commandTimeoutMs: 5000 });
    session = await connector.open(localRef("base"));
  });
  after(async () => {
    killUnder(dir);
    await connector.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resolves a relative base dir against cwd", () => {
    assert.equal(session.host.baseDir, join(dir, "base"));
  });

  it("runs argv without a shell: values stay values", async () => {
    const r = await session.exec(["printf", "%s|", "$HOME", "a b", "'; rm -rf /"]);
    assert.deepEqual(r, { code: 0, stdout: "$HOME|a b|'; rm -rf /|", stderr: "" });
  });

  it("passes stdin, reports the exit code and stderr, streams output", async () => {
    const chunks: string[] = [];
    const r = await session.exec(["sh", "-c", 'cat; echo oops >&2; exit 3'], { stdin: "hello\n", onStdout: (c) => chunks.push(c) });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "hello\n");
    assert.equal(r.stderr, "oops\n");
    assert.equal(chunks.join(""), "hello\n");
  });

  it("reports a missing program as exit 127, like a remote shell", async () => {
    const r = await session.exec(["amphi-no-such-program-xyz"]);
    assert.equal(r.code, 127);
  });

  it("reports death by signal as 128 + the signal", async () => {
    const r = await session.exec(["sh", "-c", "kill -KILL $$"]);
    assert.equal(r.code, 137);
  });

  it("kills the whole process group on timeout and rejects with kind timeout", async () => {
    const marker = join(dir, "timeout-marker");
    const started = Date.now();
    await assert.rejects(
      session.exec(["sh", "-c", 'sleep 30 & echo $! > "$1"; wait', "sh", marker], { timeoutMs: 300 }),
      (e: unknown) => e instanceof TransportError && e.kind === "timeout" && /timed out after 300 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 3000);
    const child = Number(readFileSync(marker, "utf8"));
    assert.ok(await eventually(() => !alive(child)), "the grandchild sleep must be killed with the group");
  });

  it("kills the command on abort and rejects with kind aborted", async () => {
    const ac = new AbortController();
    const p = session.exec(["sleep", "30"], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, (e: unknown) => e instanceof TransportError && e.kind === "aborted" && e.host === "localhost");
    ac.abort();
    await assert.rejects(session.exec(["true"], { signal: ac.signal }), /aborted before it started/);
  });

  it("putFile copies through a temp name and renames", async () => {
    const src = join(dir, "src.txt");
    writeFileSync(src, "payload");
    const target = join(dir, "dest.txt");
    await session.putFile(src, target);
    assert.equal(readFileSync(target, "utf8"), "payload");
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes(".tmp.")), []);
    await assert.rejects(session.putFile(src, join(dir, "missing-dir", "x")), (e: unknown) => e instanceof TransportError && e.kind === "io");
    assert.equal(existsSync(join(dir, "missing-dir")), false);
  });

  it("close kills running commands and refuses new ones", async () => {
    const other = await connector.open(localRef("base"));
    const p = other.exec(["sh", "-c", `exec sleep 31 # ${dir}`]);
    await eventually(() => processesUnder(dir).some((x) => x.cmd.includes("sleep 31")));
    await other.close();
    await assert.rejects(p, (e: unknown) => e instanceof TransportError && e.kind === "closed");
    await assert.rejects(other.exec(["true"]), (e: unknown) => e instanceof TransportError && e.kind === "closed");
  });
});

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

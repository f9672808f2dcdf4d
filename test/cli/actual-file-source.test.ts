// Where `plan --actual FILE` reads from (src/cli/actual.ts): the chunked JSON reader falls back to one whole-text
// read only when it does not handle the content; a FIFO named *.json is read once (a second open would wait for
// another writer forever); a file that cannot be read is an error naming it, exit 1 — never an empty or in-sync plan.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi, type CliResult } from "../support/cli.js";
import { EXAMPLE_REPO } from "../../src/cli/common.js";

/** The example's prod as its own actual state, with a first, empty `resources` the chunked reader gives up on (a
 * key twice) and JSON.parse overrides: in sync only when the whole text is read. */
async function inSyncTwiceKeyed(): Promise<string> {
  const r = await amphi(["render", "--repo", EXAMPLE_REPO, "--env", "prod", "--as-actual"]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.trim();
  assert.ok(text.startsWith("{") && text.includes('"resources"'));
  return `{"resources": [], ${text.slice(1)}\n`;
}

const plan = (dir: string, file: string) => amphi(["plan", "--repo", EXAMPLE_REPO, "--env", "prod", "--actual", file], dir);

test("--actual FILE.json the chunked reader does not handle is read whole: in sync", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-actual-src-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "actual.json"), await inSyncTwiceKeyed());
  const r = await plan(dir, "actual.json");
  assert.equal(r.code, 0, r.stderr + r.stdout);
});

test("--actual FIFO.json (a pipe) is read once, not opened again after the chunked reader gave up", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-actual-fifo-${process.pid}-`));
  const fifo = join(dir, "actual.json");
  writeFileSync(join(dir, "source.json"), await inSyncTwiceKeyed());
  execFileSync("mkfifo", [fifo]);
  // One writer, as `producer > actual.json` would be.
  const writer = spawn("sh", ["-c", 'cat "$1" > "$2"', "sh", join(dir, "source.json"), fifo], { stdio: "ignore" });
  t.after(() => {
    if (writer.exitCode === null) writer.kill();
    // A reader still waiting in open() for a writer (the defect) is released by one, so the process can end.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      /* no reader waiting */
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const timeout = new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), 120_000).unref());
  const r = await Promise.race([plan(dir, "actual.json"), timeout]);
  assert.notEqual(r, "waiting", "plan still waits for a second writer of the FIFO after 120 s");
  const done = r as CliResult;
  assert.equal(done.code, 0, done.stderr + done.stdout);
});

test("--actual that cannot be read (a directory named *.json, a missing file) is exit 1 naming it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-actual-bad-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "state.json"));
  const isDir = await plan(dir, "state.json");
  assert.equal(isDir.code, 1, isDir.stdout);
  assert.match(isDir.stderr, /cannot read actual state state\.json: EISDIR/);
  assert.doesNotMatch(isDir.stderr, /\n\s+at /, "no stack trace");
  const missing = await plan(dir, "nope.json");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read actual state nope\.json: no such file/);
});

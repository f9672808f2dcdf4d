// The test runner's own parts: the driver test/drive.mjs (node:test's run(), the TAP and failures reporters) and the
// closing summary of test/failures-reporter.mjs, on small test files written here (passing, failing, crashing at top
// level, exiting non-zero after its tests, hanging), the quick-suite guard test/no-spawn.mjs, and the file order and
// quick list of test/suites.mjs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
// @ts-expect-error: plain ESM module without types, run by node directly
import { allTestFiles, isQuick, isShared, longestFirst, QUICK, QUICK_EXCEPT, SHARED, SHARED_BATCHES, sharedBatchOf } from "../suites.mjs";
import { innerRunEnv } from "../support/inner-run.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const DRIVE = join(root, "test", "drive.mjs");
const NO_SPAWN = join(root, "test", "no-spawn.mjs");

const FILES: Record<string, string> = {
  "pass.test.mjs": `import { test } from "node:test"; test("passes", () => {});`,
  "fail.test.mjs": `import { describe, it } from "node:test"; import assert from "node:assert/strict";
describe("outer", () => { it("adds wrong", () => assert.equal(1 + 1, 3)); it("passes too", () => {}); });`,
  "crash.test.mjs": `console.error("about to crash: config missing"); throw new Error("top-level boom");`,
  "exit.test.mjs": `import { test } from "node:test"; test("passes, then the process fails", () => { process.on("exit", () => { process.exitCode = 7; }); });`,
  "hang.test.mjs": `import { test } from "node:test"; test("never ends", () => new Promise(() => setInterval(() => {}, 1000)));`,
  "entry.test.mjs": `await import("./pass.test.mjs"); await import("./fail.test.mjs");`,
  "odd.test.mjs": `import { test } from "node:test"; import assert from "node:assert/strict";
test("compares a function", () => assert.deepEqual({ list: [() => 1] }, { list: [null] }));`,
  "long.test.mjs": `import { test } from "node:test"; import assert from "node:assert/strict";
test("says a lot", () => assert.fail(Array.from({ length: 45 }, (_, i) => "detail " + (i + 1)).join("\\n")));`,
  "spawns.test.mjs": `import { test } from "node:test"; import { execFileSync } from "node:child_process"; test("starts git", () => { execFileSync("git", ["--version"]); });`,
};

/** The driver with TAP on stdout and the failures reporter on stderr, as test/run.mjs runs it (3 files at a time
 * unless `concurrency` says otherwise; no timeout unless `timeoutMs` sets one). */
function runTests(dir: string, files: string[], opts: { args?: string[]; env?: NodeJS.ProcessEnv; concurrency?: number; timeoutMs?: number } = {}) {
  const run = [DRIVE, String(opts.concurrency ?? 3), String(opts.timeoutMs ?? 0), ...files.map((f) => join(dir, f))];
  const r = spawnSync(process.execPath, [...(opts.args ?? []), ...run], {
    cwd: dir,
    encoding: "utf8",
    env: { ...innerRunEnv(process.env), ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


describe("failures reporter: the closing summary", () => {
  let dir: string;
  let times: string;
  let r: ReturnType<typeof runTests>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `amphi-runner-${process.pid}-`));
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), `${text}\n`);
    times = join(dir, "times.json");
    writeFileSync(times, JSON.stringify({ "test/elsewhere.test.ts": 12.5 }));
    // one run shared by the tests below
    r = runTests(dir, ["pass.test.mjs", "fail.test.mjs", "crash.test.mjs", "exit.test.mjs"], { env: { AMPHI_TEST_TIMES: times } });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("lists each failed test with its file and suite path, and each file that failed with no failed test of its own, with its stderr", () => {
    assert.equal(r.code, 1);
    const summary = r.stderr.slice(r.stderr.indexOf("failed test"));
    assert.match(r.stderr, /\n3 failed tests:\n/, r.stderr);
    assert.match(summary, /fail\.test\.mjs {2}outer > adds wrong\n {6}AssertionError/);
    assert.match(summary, /crash\.test\.mjs {2}\(the file as a whole: crashed or exited non-zero with no failed test\)/);
    const crash = summary.slice(summary.indexOf("crash.test.mjs"));
    assert.match(crash, /last lines on stderr:\n {6}\| about to crash: config missing\n/);
    assert.match(crash, /\n {6}\| Error: top-level boom\n/);
    assert.match(summary, /exit\.test\.mjs {2}\(the file as a whole: crashed or exited non-zero with no failed test\)/);
    assert.doesNotMatch(summary, /pass\.test\.mjs {2}/, "a passing file is not listed as failed");
    assert.doesNotMatch(summary, /fail\.test\.mjs {2}\(the file as a whole/, "a file whose failed tests are listed is not listed again");
    // TAP stays on stdout with its counts
    assert.match(r.stdout, /^# fail \d+$/m);
    assert.doesNotMatch(r.stdout, /failed tests:/);
  });

  it("lists a failed test whose error's cause arrives unreadable (an assertion holding a function) by the error's message", () => {
    const odd = runTests(dir, ["odd.test.mjs"]);
    assert.equal(odd.code, 1);
    assert.match(odd.stderr, /\n1 failed test:\n {2}odd\.test\.mjs {2}compares a function\n {6}Error: Expected values to be strictly deep-equal:/, odd.stderr);
  });

  it("keeps the first 40 lines of a failed test's message (what a crash test says the host looked like), and says how many it left out", () => {
    const long = runTests(dir, ["long.test.mjs"]);
    assert.equal(long.code, 1);
    const summary = long.stderr.slice(long.stderr.indexOf("1 failed test:"));
    assert.match(summary, /long\.test\.mjs {2}says a lot\n {6}AssertionError[^\n]*: detail 1\n {6}detail 2\n/, long.stderr);
    assert.match(summary, /\n {6}detail 40\n {6}… 5 more lines in the TAP above\n/);
    assert.doesNotMatch(summary, /detail 41/);
  });

  it("closes with the wall time and the slowest files, longest first", () => {
    const m = /\n4 test files in (\d+\.\d) s wall; the 4 slowest:\n((?: {2} *\d+\.\d s {2}\S+\n){4})$/.exec(r.stderr);
    assert.ok(m, r.stderr);
    const rows = m[2]!.trim().split("\n").map((l) => /(\d+\.\d) s {2}(\S+)/.exec(l)!);
    const secs = rows.map((x) => Number(x[1]));
    assert.deepEqual(secs, [...secs].sort((a, b) => b - a), "longest first");
    assert.deepEqual(rows.map((x) => x[2]!.split("/").pop()).sort(), ["crash.test.mjs", "exit.test.mjs", "fail.test.mjs", "pass.test.mjs"]);
    assert.ok(Number(m[1]) >= secs[0]!, "the whole run lasts at least as long as its longest file");
  });

  it("records each file's time in $AMPHI_TEST_TIMES, merged with the times already there", () => {
    const got = JSON.parse(readFileSync(times, "utf8")) as Record<string, number>;
    assert.equal(got["test/elsewhere.test.ts"], 12.5);
    for (const f of ["pass", "fail", "crash", "exit"]) {
      const mine = Object.entries(got).filter(([k]) => k === `${f}.test.mjs`); // outside the repo: by name
      assert.equal(mine.length, 1, JSON.stringify(got));
      assert.ok(typeof mine[0]![1] === "number" && mine[0]![1] > 0);
    }
  });

  it("in one process importing several files (as test:quick runs them), names each failed test's own file, and not the importing file again", () => {
    const one = runTests(dir, ["entry.test.mjs"]);
    assert.equal(one.code, 1);
    assert.match(one.stderr, /\n1 failed test:\n {2}\S*fail\.test\.mjs {2}outer > adds wrong\n/, one.stderr);
    assert.doesNotMatch(one.stderr, /entry\.test\.mjs {2}\(the file as a whole/);
  });

  it("starts the files in the order given, not by name (as `node --test` would)", () => {
    // one file at a time: TAP lists each file's top-level tests in the order the files ran (and a failed file by path)
    const tests = (files: string[]) => [...runTests(dir, files, { concurrency: 1 }).stdout.matchAll(/^# Subtest: ([^/].*)$/gm)].map((m) => m[1]);
    assert.deepEqual(tests(["pass.test.mjs", "exit.test.mjs"]), ["passes", "passes, then the process fails"]);
    assert.deepEqual(tests(["exit.test.mjs", "pass.test.mjs"]), ["passes, then the process fails", "passes"]);
  });

  it("names a file that timed out as a whole (a hung file ends the run instead of hanging it)", () => {
    const hung = runTests(dir, ["hang.test.mjs", "pass.test.mjs"], { timeoutMs: 3000 });
    assert.equal(hung.code, 1);
    assert.match(hung.stderr, /hang\.test\.mjs {2}(never ends|\(the file as a whole: timed out\))/, hung.stderr);
    assert.match(hung.stderr, /test timed out after 3000ms/);
  });
});

describe("test:quick's guard (test/no-spawn.mjs)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `amphi-runner-${process.pid}-`));
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), `${text}\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fails a test that starts a process, naming the command and where to move the file; the runner itself still starts the files", () => {
    const r = runTests(dir, ["spawns.test.mjs", "pass.test.mjs"], { args: ["--import", NO_SPAWN] });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spawns\.test\.mjs {2}starts git\n {6}Error: test:quick runs no process, but this test started `git --version`: move its file out of QUICK in test\/suites\.mjs/);
    assert.match(r.stderr, /\n1 failed test:\n/);
    const plain = runTests(dir, ["spawns.test.mjs"]);
    assert.equal(plain.code, 0, plain.stderr);
  });
});

describe("test/run.mjs's settings", () => {
  it("refuses a TEST_CONCURRENCY or TEST_TIMEOUT_MS that is not a whole number in range, naming the variable, before running anything", () => {
    for (const [name, value] of [["TEST_CONCURRENCY", "abc"], ["TEST_CONCURRENCY", "0"], ["TEST_TIMEOUT_MS", "-5"], ["TEST_TIMEOUT_MS", "1.5"]] as const) {
      const r = spawnSync(process.execPath, [join(root, "test", "run.mjs"), "test/runner/ports"], { encoding: "utf8", env: { ...innerRunEnv(process.env), [name]: value } });
      assert.equal(r.status, 2, `${name}=${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^test/run\\.mjs: ${name} must be a whole number, at least [01], not "${value.replace(".", "\\.")}"\n$`));
      assert.equal(r.stdout, "", "no test ran");
    }
  });

  it("without TEST_CONCURRENCY, a run of more than 4 files says how many run at once and what a process costs here; with it, or for a few files, no probe", () => {
    const env = innerRunEnv(process.env);
    delete env.TEST_CONCURRENCY;
    const runOf = (filter: string, extra: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [join(root, "test", "run.mjs"), filter], { encoding: "utf8", env: { ...env, ...extra } });
    const probed = runOf("test/model/");
    assert.equal(probed.status, 0, probed.stderr);
    assert.match(probed.stderr, /^test\/run\.mjs: (4|8) files at once \(a short process costs ~\d+\.\d ms of CPU here; TEST_CONCURRENCY sets it\)$/m);
    const said = /(\d) files at once \(a short process costs ~(\d+\.\d) ms/.exec(probed.stderr)!;
    assert.equal(said[1], Number(said[2]) < 1 ? "8" : "4", probed.stderr);
    for (const [filter, extra] of [["test/model/", { TEST_CONCURRENCY: "3" }], ["test/model/digest", {}]] as const) {
      const r = runOf(filter, extra);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /files at once/, `${filter} ${JSON.stringify(extra)}`);
    }
  });
});

describe("test/suites.mjs", () => {
  it("starts the longest files first; unknown files count as 3 s and keep their order", () => {
    assert.deepEqual(longestFirst(["a", "b", "c", "d", "e"], { b: 90, c: 1, e: 4 }), ["b", "e", "a", "d", "c"]);
  });

  it("every quick entry names an existing file or folder, and the quick list leaves out the netns, kubectl and chromium files", () => {
    const all: string[] = allTestFiles(root);
    for (const p of [...QUICK, ...QUICK_EXCEPT] as string[]) assert.ok(all.some((f) => (p.endsWith("/") ? f.startsWith(p) : f === p)), `${p} matches no test file`);
    const quick = all.filter(isQuick);
    assert.ok(quick.length >= 40, `${quick.length} quick files`);
    for (const f of ["test/hosts-infra/netns-hosts.test.ts", "test/report/html-chromium.test.ts", "test/config/sources.test.ts", "test/runner/runner.test.ts"]) assert.ok(!quick.includes(f), f);
    assert.ok(quick.includes("test/diff/diff.test.ts"));
  });

  it("every shared entry names an existing test file that is not quick, in one batch (a renamed file would leave the batch unnoticed)", () => {
    const all: string[] = allTestFiles(root);
    for (const [batch, files] of Object.entries(SHARED_BATCHES as Record<string, string[]>)) {
      assert.match(batch, /^shared-[a-z]+\.test\.mjs$/);
      for (const f of files) {
        assert.ok(all.includes(f), `${f} matches no test file`);
        assert.ok(!isQuick(f), `${f} is quick: it runs in the quick batch already`);
        assert.ok(isShared(f));
        assert.equal(sharedBatchOf(f), batch);
      }
    }
    assert.equal(new Set(SHARED).size, SHARED.length, "no file listed twice");
  });
});

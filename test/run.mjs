#!/usr/bin/env node
// Runs the test files (test/**/*.test.ts) with node:test, compiled: it first brings the compiled tree
// .test-build/tree/ up to date (test/support/compiled-tree.mjs: each changed .ts compiled to .js beside it, the rest
// linked), then runs the compiled test files on plain node (no tsx loader in any test process or in the processes
// they start), with stacks that name the .ts lines (test/support/source-map-stacks.mjs, preloaded), through
// test/drive.mjs (node:test's run(): `node --test` would sort the files by name). The files are listed here
// (test/suites.mjs); the summary names them by their .ts paths. Arguments narrow the run:
// `node test/run.mjs config render` runs the files whose path contains one of the words. `--quick` runs only the
// quick suites (pure code, no process started), which run in one process in every run (and the SHARED_BATCHES files
// of a run, in a few more: test/suites.mjs); `--record-times` writes each
// file's wall time to test/durations.json. Files start longest first (by test/durations.json) so that the run does
// not end waiting on one long file started last.
// TEST_CONCURRENCY (default: 4 or 8 by what a short process costs here, see defaultConcurrency) is how many
// files run at once; TEST_TIMEOUT_MS (default 1800000: 30 min; 0: none) fails a test or a whole file that runs
// longer, so a hung file ends the run with its name instead of hanging it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compileTree } from "./support/compiled-tree.mjs";
import { allTestFiles, DURATIONS_FILE, isQuick, longestFirst, QUICK_BATCH, readDurations, SHARED_BATCHES, sharedBatchOf } from "./suites.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith("--")));
const filters = process.argv.slice(2).filter((a) => !a.startsWith("--"));
for (const f of flags) {
  if (f !== "--quick" && f !== "--record-times") {
    console.error(`test/run.mjs: unknown option ${f} (known: --quick, --record-times)`);
    process.exit(2);
  }
}
const quick = flags.has("--quick");
/** A whole number from the environment variable `name` (at least `min`), else `fallback`; anything else ends the run
 * naming the variable (node:test itself would name only its own option). */
function wholeNumber(name, fallback, min) {
  const text = process.env[name] ?? fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    console.error(`test/run.mjs: ${name} must be a whole number, at least ${min}, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return text;
}
const timeout = wholeNumber("TEST_TIMEOUT_MS", "1800000", 0); // 0: no limit

/** CPU time (ms) of this process's waited-for children so far, from /proc/self/stat (cutime + cstime, in USER_HZ
 * ticks of 10 ms); null where it cannot be read. */
function childrenCpuMs() {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" "); // after the command name, which may hold ") "
    return (Number(fields[13]) + Number(fields[14])) * 10; // fields 16 and 17 of proc(5), counted from the state (3)
  } catch {
    return null;
  }
}

/** How many files run at once when TEST_CONCURRENCY is not set, and why: 8 where a short process is cheap, else 4.
 * Most of the suite's CPU is the life of short processes (~30,000 a run: sh and coreutils in host scripts, curl,
 * kubectl, git, node). On a 2-core nested PVM guest where one cost ~5–6 ms of CPU (an mv; mostly page faults), a
 * whole run was CPU-bound at 4 files at once (cores 96 % busy) and 6 took 432 s against 400 s at 4 (3: 503 s; 2:
 * 555 s). On a 2-core KVM guest where one
 * costs ~0.5 ms, the cores idled a third of a run at 4 while files waited on hosts and timers: 8 took 114.8 s of tests
 * against 159.0 s at 4 (6: 127.6 s), and beside four busy loops 172.1 against 246.2 s, 1,221 of 1,221 each. The probe
 * (~50 ms here): 100 runs of /bin/true from one sh, their CPU read from this process's children's times (in steps of
 * 0.1 ms a run). It read 0.4–0.6 ms here, quiet or beside eight busy loops (CPU time, not wall); the line at 1 ms keeps
 * a margin both ways, as /bin/true (libc alone) may read below the PVM guest's mv. */
function defaultConcurrency() {
  const runs = 100;
  const before = childrenCpuMs();
  const r = spawnSync("sh", ["-c", `i=0; while [ $i -lt ${runs} ]; do /bin/true; i=$((i + 1)); done`], { stdio: "ignore" });
  const after = childrenCpuMs();
  if (r.status !== 0 || before === null || after === null) return { value: "4", why: "the cost of a process could not be measured" };
  const each = (after - before) / runs;
  return { value: each < 1 ? "8" : "4", why: `a short process costs ~${each.toFixed(1)} ms of CPU here` };
}

const selected = allTestFiles(root)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !quick || isQuick(f));
if (selected.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "test/**/*.test.ts"}${quick ? " among the quick suites" : ""}`);
  process.exit(1);
}
// narrowed runs of a few files gain nothing from more at once: no probe for them
const probed = process.env.TEST_CONCURRENCY === undefined && selected.length > 4 ? defaultConcurrency() : null;
const concurrency = probed ? probed.value : wholeNumber("TEST_CONCURRENCY", "4", 1);
if (probed) console.error(`test/run.mjs: ${probed.value} files at once (${probed.why}; TEST_CONCURRENCY sets it)`);
let tree;
try {
  const built = await compileTree(root);
  tree = built.tree;
  if (built.compiled > 0) console.error(`test/run.mjs: compiled ${built.compiled} of ${built.sources} TypeScript files into ${relative(root, tree)}/ in ${(built.ms / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`test/run.mjs: ${e.message}`);
  process.exit(1);
}
/** A test file (path from the repo root, .ts) as the compiled file that runs. */
const compiled = (f) => join(tree, f.replace(/\.ts$/, ".js"));
// The quick suites run in one process (one file importing them all, in order), in a whole run too: each file on its
// own would spend most of its time starting node and loading the same modules (~1 s of CPU a file; all 56 together
// take ~13 s). So do the SHARED_BATCHES files of a whole run, a few more processes. Failures still name their own file.
const batches = [
  { name: QUICK_BATCH, files: selected.filter(isQuick) },
  ...Object.keys(SHARED_BATCHES).map((name) => ({ name, files: quick ? [] : selected.filter((f) => sharedBatchOf(f) === name) })),
].filter((b) => b.files.length > 1);
const entryDir = batches.length > 0 ? mkdtempSync(join(tmpdir(), "amphi-test-")) : null;
const inBatch = new Set(batches.flatMap((b) => b.files));
const entries = new Map(batches.map((b) => [b.name, join(entryDir, b.name)]));
for (const b of batches) writeFileSync(entries.get(b.name), b.files.map((f) => `await import(${JSON.stringify(pathToFileURL(compiled(f)).href)});\n`).join(""));
const files = longestFirst([...selected.filter((f) => !inBatch.has(f)), ...batches.map((b) => b.name)], readDurations(root))
  .map((f) => entries.get(f) ?? compiled(f));
const env = { ...process.env };
// No test reaches a public TLS endpoint, and NODE_EXTRA_CA_CERTS (set on some machines, this one among them) makes
// every node process parse that CA bundle as it starts: 100 instead of 60 ms for `node -e 0` here, in each of the
// hundreds of node processes a run starts (test files, amphi, the doubles, sidecars).
delete env.NODE_EXTRA_CA_CERTS;
if (flags.has("--record-times")) env.AMPHI_TEST_TIMES = join(root, DURATIONS_FILE);
// The driver reports TAP on stdout (its closing counts are what CI reads), and the list of failed tests, the wall
// time and the slowest files on stderr at the end. The driver's node options reach each test file's process
// (node:test starts them with its execArgv). --single-threaded: V8 does its GC marking, scavenges and optimizing
// compiles on the main thread, not on helper threads: with 4 files at once on 2 cores those threads only competed
// with the other files for the cores (xds/, kube/ and loop/ files, alternating runs: 200.5–209.9 → 179.7–185.8 s
// of CPU; hosts/, envoy-double/ and mesh-e2e/, where other processes do most of the work: the same within noise).
// --min-semi-space-size=16: V8's nursery starts at 16 MB instead of growing from 1 MB, so loading ~150 modules and
// running doubles in process take far fewer scavenges (a test file's start: ~95 ms of GC of ~560 ms busy). Ten
// node-heavy files (xds/, kube/, loop/, secrets/, dns/, cli/), alternating runs, CPU of the whole tree (cgroup):
// 114.3, 110.6, 96.4 → 107.1, 102.4, 87.9 s; 32 MB measured no better than 16.
const result = spawnSync(
  process.execPath,
  [
    "--single-threaded", "--min-semi-space-size=16",
    "--import", join(root, "test", "support", "source-map-stacks.mjs"), ...(quick ? ["--import", join(root, "test", "no-spawn.mjs")] : []),
    join(root, "test", "drive.mjs"), concurrency, timeout, ...files,
  ],
  { cwd: root, stdio: "inherit", env },
);
if (entryDir) rmSync(entryDir, { recursive: true, force: true });
process.exit(result.status ?? 1);

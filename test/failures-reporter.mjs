// A node:test reporter that prints, once every test has run, each failed test with its file, suite path and the
// first lines of its error (CI keeps only the end of a run's output: a crash test's message says what the host
// looked like, and that is what a flaky failure is diagnosed from), so nobody scrolls TAP to find them; then the whole run's wall time and its slowest files. A file that
// fails with no failed test of its own (it crashed at top level, timed out as a whole, or exited non-zero after its
// tests) is listed as the file, with the last lines it wrote to stderr. test/run.mjs runs it beside the TAP reporter.
// With AMPHI_TEST_TIMES set, it also writes each file's wall time (seconds, by path from the repo root) to that JSON
// file, merged with the times already there: test/run.mjs starts the longest files first on the next run.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { sourcePath } from "./support/compiled-tree.mjs";

const root = new URL("..", import.meta.url).pathname;
const STDERR_LINES = 12;
/** Lines of a failed test's error message kept in the summary (each cut at LINE_CHARS). */
const ERROR_LINES = 40;
const LINE_CHARS = 300;
const SLOWEST = 10;

/** `started`: when the run began (test/drive.mjs takes it before node:test's run(): this body starts only when the
 * first event is read, after the first files have started, and the wall time it gave was once shorter than the
 * longest file's). */
export default async function* failures(source, started = Date.now()) {
  const stacks = new Map(); // file → names of the tests open at each nesting level
  const stderr = new Map(); // file → its last lines on stderr
  const failedIn = new Set(); // files with at least one failed test listed
  const fileEnds = []; // {file, ms, error} per test file, in the order they ended
  const failed = [];
  for await (const ev of source) {
    const { name, nesting, file } = ev.data ?? {};
    if (ev.type === "test:start") {
      const stack = stacks.get(file) ?? [];
      stack.length = nesting;
      stack.push(name);
      stacks.set(file, stack);
    } else if (ev.type === "test:stderr" && file) {
      const lines = stderr.get(file) ?? [];
      // the messages; stack frames are noise in a summary
      lines.push(...String(ev.data.message).split("\n").filter((l) => l.trim() !== "" && !/^\s+at /.test(l)));
      stderr.set(file, lines.slice(-STDERR_LINES));
    } else if (ev.type === "test:complete" && nesting === 0 && file && name === file) {
      // the file itself (its process) ended: passed, failed, crashed or timed out
      fileEnds.push({ file, ms: ev.data.details?.duration_ms ?? 0, error: ev.data.details?.error });
    } else if (ev.type === "test:fail" && !(nesting === 0 && name === file)) {
      // a suite fails when one of its tests does: that test is listed already
      if (ev.data.details?.type === "suite" && /subtests? failed$/.test(String(ev.data.details?.error?.message ?? ""))) continue;
      const path = [...(stacks.get(file) ?? []).slice(0, nesting), name].join(" > ");
      // no line number: the TAP on stdout has the stack, with the .ts lines (test/run.mjs turns source maps on)
      failed.push(`  ${where(file)}  ${path}\n${errorLines(ev.data.details?.error)}`);
      failedIn.add(file);
    }
  }
  const testsFailed = failed.length > 0;
  for (const end of fileEnds) {
    // a file whose failed tests are listed (by their own file: a file importing others names those) is not listed again
    if (!end.error || failedIn.has(end.file) || (testsFailed && failureType(end.error) === "subtestsFailed")) continue;
    const tail = (stderr.get(end.file) ?? []).map((l) => `      | ${l.slice(0, LINE_CHARS)}`);
    failed.push(`  ${where(end.file)}  (the file as a whole: ${fileFailure(end.error)})\n${errorLines(end.error, 1)}${tail.length ? `\n      last lines on stderr:\n${tail.join("\n")}` : ""}`);
  }
  const wall = (Date.now() - started) / 1000;
  yield failed.length === 0 ? "\nno test failed\n" : `\n${failed.length} failed test${failed.length === 1 ? "" : "s"}:\n${failed.join("\n")}\n`;
  yield summary(fileEnds, wall);
  recordTimes(fileEnds);
}

/** The closing lines: whole-run wall time, file count and the slowest files. */
function summary(fileEnds, wall) {
  const slowest = [...fileEnds].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST);
  const rows = slowest.map((e) => `  ${(e.ms / 1000).toFixed(1).padStart(7)} s  ${where(e.file)}`);
  const head = `\n${fileEnds.length} test file${fileEnds.length === 1 ? "" : "s"} in ${wall.toFixed(1)} s wall`;
  return rows.length === 0 ? `${head}\n` : `${head}; the ${rows.length} slowest:\n${rows.join("\n")}\n`;
}

/** Merges this run's file times into $AMPHI_TEST_TIMES (test/run.mjs orders files by it). */
function recordTimes(fileEnds) {
  const out = process.env.AMPHI_TEST_TIMES;
  if (!out || fileEnds.length === 0) return;
  let times = {};
  try {
    if (existsSync(out)) times = JSON.parse(readFileSync(out, "utf8"));
  } catch {
    times = {}; // a broken file is only a lost ordering hint
  }
  for (const e of fileEnds) times[where(e.file)] = Math.round(e.ms / 100) / 10;
  writeFileSync(out, `${JSON.stringify(times, Object.keys(times).sort(), 1)}\n`);
}

/** A file by its path from the repo root (a compiled file of .test-build/tree/ by its .ts source's); a file outside
 * it (test/run.mjs's quick-suites.test.mjs) by its name. */
function where(file) {
  if (!file) return "(no file)";
  const path = relative(root, sourcePath(root, file));
  return path.startsWith("../") ? basename(file) : path;
}

/** Why a file failed as a whole, in words. */
function fileFailure(error) {
  const type = failureType(error);
  if (type === "testTimeoutFailure") return "timed out";
  if (type === "cancelledByParent") return "cancelled";
  return "crashed or exited non-zero with no failed test";
}

function failureType(error) {
  return error?.failureType ?? error?.cause?.failureType;
}

/** The error's first `max` non-empty lines, indented; a longer message says how many lines it left out. */
function errorLines(error, max = ERROR_LINES) {
  const lines = errorText(error).split("\n").filter((l) => l.trim() !== "");
  const kept = lines.slice(0, max).map((l) => `      ${l.slice(0, LINE_CHARS)}`);
  if (lines.length > max) kept.push(`      … ${lines.length - max} more lines in the TAP above`);
  return kept.join("\n");
}

function errorText(error) {
  // An error from a test file's process arrives deserialized. When its cause could not be (an assertion whose
  // values hold a function arrives as an empty object without a prototype, and String() of it threw, crashing the
  // reporter and hiding the summary), the wrapping error's message says what failed.
  const cause = error?.cause;
  const e = cause instanceof Error || typeof cause?.message === "string" || (cause != null && typeof cause !== "object") ? cause : error;
  return e instanceof Error || typeof e?.message === "string" ? `${e.name ?? "Error"}: ${e.message}` : describe(e);
}

function describe(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// The test runner's driver process, started by test/run.mjs: runs the test files in the order given, `concurrency` at
// a time, through node:test's run(), with the TAP reporter on stdout and test/failures-reporter.mjs on stderr. `node
// --test FILES…` would sort the files by name (Node 20's createTestFileList), so the longest-first order test/run.mjs
// computes never reached it; run() with `files` keeps it. Each test file's process gets this process's own node
// options (test/run.mjs starts it with the preload that maps stacks to the .ts lines, and for --quick the no-spawn
// guard).
// Usage: node [options] test/drive.mjs CONCURRENCY TIMEOUT_MS FILE… (TIMEOUT_MS 0: none)
import { run } from "node:test";
import { tap } from "node:test/reporters";
import failures from "./failures-reporter.mjs";

const [concurrency, timeout, ...files] = process.argv.slice(2);
const started = Date.now();
const stream = run({ files, concurrency: Number(concurrency), timeout: Number(timeout) > 0 ? Number(timeout) : Infinity });
// as `node --test` does: any failed test fails the run
stream.on("test:fail", (data) => {
  if (data.todo === undefined || data.todo === false) process.exitCode = 1;
});
stream.compose(tap).pipe(process.stdout);
stream.compose((source) => failures(source, started)).pipe(process.stderr);

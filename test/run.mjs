#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts) with node:test under tsx. Node 20's --test does not expand
// globs, so the files are listed here. Arguments narrow the run: `node test/run.mjs config render`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures") continue;
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const files = walk(join(root, "test"))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "test/**/*.test.ts"}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  [
    "--import", "tsx", "--test", `--test-concurrency=${concurrency}`,
    // TAP on stdout as before (its closing counts are what CI reads), and the list of failed tests on stderr at the end
    "--test-reporter=tap", "--test-reporter-destination=stdout",
    `--test-reporter=${join(root, "test", "failures-reporter.mjs")}`, "--test-reporter-destination=stderr",
    ...files,
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);

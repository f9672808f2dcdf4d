// Golden-file assertions: compare output with a file next to the test; UPDATE_GOLDEN=1 rewrites it.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Asserts that `actual` equals the golden file at `file` (absolute path). With UPDATE_GOLDEN=1 the
 * file is (re)written instead; a missing golden file fails with a hint rather than passing silently. */
export function assertGolden(file: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === "1") {
    // Written into the checkout: a test running in the compiled tree (.test-build/tree/) reaches existing golden
    // folders through links, but a new folder made there would be pruned with the tree on the next run.
    const target = file.replace(/\/\.test-build\/tree\//, "/");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, actual);
    return;
  }
  if (!existsSync(file)) {
    assert.fail(`golden file ${file} is missing; run the test with UPDATE_GOLDEN=1 to create it`);
  }
  assert.equal(actual, readFileSync(file, "utf8"), `output differs from ${file} (UPDATE_GOLDEN=1 refreshes it)`);
}

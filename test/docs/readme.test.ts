// The README's config reference is generated from the schemas' descriptions; it must be current.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("README config reference matches the schemas (node scripts/config-reference.mjs --write refreshes it)", () => {
  const r = spawnSync(process.execPath, ["scripts/config-reference.mjs", "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

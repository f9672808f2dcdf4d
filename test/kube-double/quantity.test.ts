// Canonical resource quantities, as the apiserver writes them back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalQuantity } from "../support/kube-apiserver/quantity.js";

test("quantities are rewritten with the largest suffix that keeps the number whole", () => {
  const cases: [unknown, string][] = [
    ["0.5", "500m"], ["100m", "100m"], ["1500m", "1500m"], ["2000m", "2"], [1, "1"], ["1000", "1k"],
    ["128974848", "128974848"], ["128Mi", "128Mi"], ["1024Mi", "1Gi"], ["1.5Gi", "1536Mi"], ["0.5Ki", "512"],
    ["0", "0"], ["1e3", "1e3"], ["abc", "abc"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalQuantity(input), want, `${String(input)}`);
});

// Kubernetes quantities: parsed to values so the API server's canonical forms compare equal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { quantityValue, sameQuantity } from "../../src/compare/quantity.js";

test("quantities parse with decimal, binary and exponent suffixes", () => {
  assert.equal(quantityValue("500m"), 0.5);
  assert.equal(quantityValue(2), 2);
  assert.equal(quantityValue("1Gi"), 2 ** 30);
  assert.equal(quantityValue("1.5k"), 1500);
  assert.equal(quantityValue("1e3"), 1000);
  assert.equal(quantityValue(".5"), 0.5);
  for (const bad of ["", "1 Gi", "Gi", "1gi", "1.2.3", null, true]) assert.equal(quantityValue(bad), null, String(bad));
});

test("equal values in different forms are the same quantity; different values or non-quantities are not", () => {
  assert.ok(sameQuantity(0.1, "100m"));
  assert.ok(sameQuantity("1024Mi", "1Gi"));
  assert.ok(sameQuantity("1000", "1k"));
  assert.ok(!sameQuantity("1Gi", "1G"));
  assert.ok(!sameQuantity("abc", "abc"));
});

// sha256Hex / shortDigest: the digests spec hashes, mesh resource versions, bootstrap digests and mirror folders use.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { sha256Hex, shortDigest } from "../../src/model/index.js";

test("sha256Hex is the sha256 of the UTF-8 text in hex (FIPS 180-2 example), shortDigest its first 16 digits", () => {
  assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(shortDigest("abc"), "ba7816bf8f01cfea");
  for (const text of ["", "é ü 漢字 🙂", "a\0b", "x".repeat(100_000)]) {
    assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"), JSON.stringify(text.slice(0, 20)));
    assert.equal(shortDigest(text), sha256Hex(text).slice(0, 16));
  }
});

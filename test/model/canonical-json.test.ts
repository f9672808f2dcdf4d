// canonicalJson: the one canonical JSON (spec hashes, host records, Consul registrations compared).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalJson } from "../../src/model/index.js";
import { specHash } from "../../src/config/normalize-app.js";
import { modelFixture } from "../support/model-fixture.js";

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
    assert.equal(canonicalJson(a), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    assert.equal(canonicalJson(b), canonicalJson(a));
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });

  it("is JSON.stringify otherwise: undefined fields left out, null kept, strings escaped, no spaces", () => {
    assert.equal(canonicalJson({ a: undefined, b: null, c: 'q"\n' }), '{"b":null,"c":"q\\"\\n"}');
    assert.equal(canonicalJson([undefined, 1]), "[null,1]");
    assert.equal(canonicalJson("s"), '"s"');
    assert.equal(canonicalJson(1.5), "1.5");
    for (const v of [{ x: 1 }, [1, "a"], null, true]) assert.deepEqual(JSON.parse(canonicalJson(v)), v);
  });

  it("orders keys by UTF-16 code units, not by locale", () => {
    assert.equal(canonicalJson({ b: 1, B: 2, "é": 3, a: 4 }), '{"B":2,"a":4,"b":1,"é":3}');
  });

  it("gives the spec hashes amphi has always given (pinned from before canonical JSON had one home)", () => {
    const hashes = Object.fromEntries(modelFixture().apps.map(({ specHash: _recorded, ...app }) => [app.name, specHash(app)]));
    assert.deepEqual(hashes, {
      billing: "b6462a3dc3c1ae25c7c7177461fb6f99c1e52faa66a4dcbd1551306b7481de96",
      catalog: "3418af3e4eafb398209ec2bd0dc8433b07d38342f11c04647e20e82e7487f430",
      user: "3ccff463da0647275645a162b4da5230836457613cbb60bf8945299d8c26c7c1",
      web: "119b6f02b4eba879a5e2e6e3107e166c3f8356f7ac96a0b2d7545ef2dd84550e",
    });
    const { specHash: _recorded, ...app } = modelFixture().apps[0]!;
    assert.equal(specHash({ ...app, file: "elsewhere/app.yaml" }), specHash(app));
  });
});

/** canonicalJson as it was first written: JSON.stringify with a replacer that copies each object with its keys
 * sorted. The hand-written one must give the same bytes. */
function byReplacer(value: unknown): string {
  return (
    JSON.stringify(value, (_key: string, v: unknown) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = (v as Record<string, unknown>)[k];
      return out;
    }) ?? "undefined"
  );
}

describe("canonicalJson against JSON.stringify with a sorting replacer", () => {
  // a small seeded generator (mulberry32): the same values every run
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const KEYS = ["a", "b", "B", "é", "", "0", "1", "9", "10", "01", "-1", "1.5", "4294967294", "4294967295", "key with space", 'q"uote', "\u{1f600}"];
  const SCALARS: unknown[] = ["", "x", 'q"\\\n\t', "\ud800", "é\u{1f600}", 0, -0, 1.5, -3e21, 1e-7, NaN, Infinity, true, false, null, undefined, () => 1, Symbol("s")];
  function value(depth: number): unknown {
    const r = rand();
    if (depth > 3 || r < 0.4) return pick(SCALARS);
    if (r < 0.55) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    if (r < 0.6) return new Date(Math.floor(rand() * 2e12));
    if (r < 0.65) {
      const inner = value(depth + 1);
      return { toJSON: (key: string) => ({ key, inner }) };
    }
    if (r < 0.68) return new Map([["a", 1]]);
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rand() * 6); i > 0; i--) o[pick(KEYS)] = value(depth + 1);
    return o;
  }

  it("gives the same text for 2,000 random values (integer-like keys, toJSON, undefined, functions, dates)", () => {
    for (let i = 0; i < 2000; i++) {
      const v = value(0);
      assert.equal(canonicalJson(v), byReplacer(v), `value ${i}`);
    }
  });

  it("throws on a bigint as JSON.stringify does", () => {
    assert.throws(() => canonicalJson({ a: 1n }), TypeError);
  });
});

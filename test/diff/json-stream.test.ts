// The --actual file read chunk by chunk: the same state (or the same error) as parsing the whole text, whatever
// the chunk size and formatting; resources identical to desired ones become those objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseActualState, readActualJson } from "../../src/diff/actual-file.js";
import { readJsonStreaming } from "../../src/diff/json-stream.js";
import { readActualFile } from "../../src/cli/actual.js";
import { sameJson } from "../../src/compare/compare.js";
import { InputError, type DesiredState } from "../../src/model/index.js";
import { capture, deployment, hostInstance, registration } from "../support/resources-fixture.js";

const resources = [deployment({ app: "web" }), hostInstance({ app: "billing" }), capture(), registration("billing")];

/** Reads `text` at most `size` bytes at a time. */
function chunks(text: string, size: number) {
  const bytes = Buffer.from(text);
  let at = 0;
  return async (into: Buffer, offset: number) => {
    const n = bytes.copy(into, offset, at, Math.min(at + size, bytes.length));
    at += n;
    return n;
  };
}

/** The document read through a buffer of `buffer` bytes (it grows for longer values), `size` bytes per read. */
async function streamed(text: string, size: number, buffer = 16) {
  const got: unknown[] = [];
  const rest = await readJsonStreaming(chunks(text, size), "resources", (e) => got.push(e), buffer);
  return rest === null || !("resources" in rest) ? rest : { ...rest, resources: got };
}

test("every chunk size and formatting gives what JSON.parse gives", async () => {
  const state = { env: "prod", observedAt: null, resources, unreachable: [{ runtime: "vm", target: "legacy/vm-3", reason: 'a "quoted" \\ reason, {not} [json]' }] };
  const odd = { "é ü \u2603": ["\\", "\"", "}]"], resources, n: -1.5e3, t: true, f: false, z: null };
  for (const doc of [state, odd, { resources: [] }, {}, { unreachable: [], resources: [{}] }]) {
    for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2), JSON.stringify(doc, null, "\t").replaceAll("\n", "\r\n")]) {
      for (const [size, buffer] of [[1, 1], [2, 4], [3, 16], [7, 8], [64, 64], [1 << 20, 1 << 20]] as const) {
        assert.deepEqual(await streamed(text, size, buffer), JSON.parse(text), `reads of ${size} into ${buffer} bytes: ${text.slice(0, 60)}`);
      }
    }
  }
});

test("what it does not handle is null (the caller parses the whole text), never a wrong value", async () => {
  const bad = [
    "",
    "[]",
    `{"resources": [1, 2]}`,
    `{"resources": [{}] }x`,
    `{"resources": [{} {}]}`,
    `{"resources": [{},]}`,
    `{"resources": [{"a":[1}]}`,
    `{"resources": [], "resources": []}`,
    `{"resources": [{"a": "unterminated}]}`,
    `{"a": 1,}`,
    `{"a" 1}`,
    `\uFEFF{"resources": []}`,
  ];
  for (const text of bad) for (const size of [1, 5, 1 << 20]) assert.equal(await streamed(text, size), null, text);
});

test("a state read in chunks equals the parsed text, problems and all", async () => {
  const text = JSON.stringify({ env: "prod", observedAt: "2026-01-02T03:04:05Z", resources, unreachable: [{ runtime: "vm", target: "legacy/vm-3", reason: "timeout" }] }, null, 2);
  assert.deepEqual(await readActualJson(chunks(text, 13), "actual.json", "prod", undefined, 32), parseActualState(text, "actual.json", "prod"));
  const [dep, vm] = JSON.parse(JSON.stringify(resources));
  delete dep.object;
  vm.runtime = "lxc";
  const broken = JSON.stringify({ env: "staging", resources: [dep, vm, vm, 42], extra: 1 });
  const messageOf = (f: () => unknown) => Promise.resolve().then(f).then(() => assert.fail("accepted"), (e: unknown) => (assert.ok(e instanceof InputError), e.message));
  const whole = await messageOf(() => parseActualState(broken, "actual.json", "prod"));
  assert.match(whole, /unknown field "extra"/);
  // 42 is not an object: the chunked reader leaves this file to the whole-text parse
  assert.equal(await readActualJson(chunks(broken, 5), "actual.json", "prod"), null);
  const noNumber = broken.replace(",42]", "]");
  assert.notEqual(noNumber, broken);
  assert.equal(await messageOf(() => readActualJson(chunks(noNumber, 5), "actual.json", "prod")), await messageOf(() => parseActualState(noNumber, "actual.json", "prod")));
});

test("resources identical to desired ones are those objects; a drifted or observed one is its own", async () => {
  const desired: DesiredState = { env: "prod", resources: JSON.parse(JSON.stringify(resources)) };
  const drifted = JSON.parse(JSON.stringify(resources));
  drifted[0].object.spec.replicas = 7;
  drifted[1].observed = { process: "stopped" };
  const text = JSON.stringify({ resources: drifted });
  for (const state of [parseActualState(text, "actual.json", "prod", desired), (await readActualJson(chunks(text, 100), "actual.json", "prod", desired, 64))!]) {
    assert.deepEqual(state.resources, drifted);
    assert.notEqual(state.resources[0], desired.resources[0]);
    assert.notEqual(state.resources[1], desired.resources[1]);
    assert.equal(state.resources[2], desired.resources[2]);
    assert.equal(state.resources[3], desired.resources[3]);
  }
});

test("readActualFile: the same state from a .json file, whole-text errors for bad JSON and missing files", async () => {
  const dir = mkdtempSync(join(tmpdir(), `amphi-json-stream-${process.pid}-`));
  try {
    const io = { cwd: dir } as Parameters<typeof readActualFile>[0];
    const text = JSON.stringify({ env: "prod", resources }, null, 2);
    writeFileSync(join(dir, "actual.json"), text);
    assert.deepEqual(await readActualFile(io, "actual.json", "prod"), parseActualState(text, "actual.json", "prod"));
    writeFileSync(join(dir, "bad.json"), `{"resources": [}`);
    await assert.rejects(readActualFile(io, "bad.json", "prod"), /^InputError: bad\.json: invalid JSON: /);
    await assert.rejects(readActualFile(io, "gone.json", "prod"), /cannot read actual state gone\.json: no such file/);
    await assert.rejects(readActualFile(io, ".", "prod"), /cannot read actual state \.: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sameJson: identical JSON only (a key holding undefined on one side differs)", () => {
  assert.ok(sameJson({ a: [1, { b: "x" }], c: null }, { c: null, a: [1, { b: "x" }] }));
  assert.ok(sameJson(undefined, undefined));
  for (const [a, b] of [
    [{ a: undefined }, {}],
    [{}, { a: undefined }],
    [[], {}],
    [null, undefined],
    [{ a: 1 }, { a: "1" }],
    [[1, 2], [2, 1]],
    [{ a: [1] }, { a: [1, 1] }],
    [{ a: { b: 1 } }, { a: { b: 1, c: 2 } }],
  ] as const) {
    assert.equal(sameJson(a as never, b as never), false, JSON.stringify([a, b]));
    assert.equal(sameJson(b as never, a as never), false, JSON.stringify([b, a]));
  }
});

test("an element whose text is the guessed value's JSON (compact, or indented at its column) is that value, unparsed", async () => {
  const state = { env: "prod", observedAt: null, resources, unreachable: [] };
  const drifted = JSON.parse(JSON.stringify(resources));
  drifted[2].changed = true; // capture(): its payload field is not `object`
  for (const text of [JSON.stringify(state), JSON.stringify(state, null, 2), JSON.stringify({ ...state, resources: drifted }, null, 2)]) {
    for (const [size, buffer] of [[3, 16], [100, 64], [1 << 20, 1 << 20]] as const) {
      const got: { value: unknown; matched: boolean }[] = [];
      const guesses: number[] = [];
      const rest = await readJsonStreaming(chunks(text, size), "resources", (value, _i, matched) => got.push({ value, matched }), buffer, (i) => (guesses.push(i), resources[i]));
      assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text), `${size}/${buffer}: ${text.slice(0, 40)}`);
      const changed = text.includes('"changed"') ? 2 : -1;
      got.forEach((g, i) => {
        assert.equal(g.matched, i !== changed, `element ${i}`);
        if (i !== changed) assert.equal(g.value, resources[i]);
      });
      // Each element is guessed once, in order, the drifted one too.
      assert.deepEqual(guesses, [0, 1, 2, 3]);
    }
  }
});

test("a guess matches exactly the text JSON.stringify writes for it: escapes, non-ASCII, numbers, empty and nested values", async () => {
  const tricky = [
    { key: "k8s/c1/ConfigMap/ns/a", s: 'quote " backslash \\ slash / tab \t nl \n cr \r bs \b ff \f nul \u0000 us \u001f del \u007f' },
    { key: "k8s/c1/ConfigMap/ns/b", s: "é ß – ✓ 😀 \u2028 \u2029", lone: ["\ud800", "\udfff", "x\ud83dy", "\ude00z"] },
    { key: "k8s/c1/ConfigMap/ns/c", n: [0, 1.5, -2e-7, 1e21, 123456789012345680000, Number.MAX_VALUE, 5e-324], b: [true, false, null] },
    { key: "k8s/c1/ConfigMap/ns/d", empty: { o: {}, a: [], deep: [[[]], [{}], { x: [] }] }, "10": "integer-like keys first", "2": 2, "é\"k": 1 },
  ];
  // Each element written as JSON.stringify writes it, and the same values written otherwise (every key has a `/`).
  const other = (v: unknown) => JSON.stringify(v).replace(/\//g, "\\/").replace(/é/g, "\\u00e9").replace(/1\.5/g, "15e-1").replace(/: ?\[\]/g, ":[ ]");
  for (const compact of [true, false]) {
    const same = compact ? JSON.stringify({ resources: tricky }) : JSON.stringify({ resources: tricky }, null, 2);
    const differently = `{"resources":[${tricky.map(other).join(",")}]}`;
    for (const [text, matched] of [[same, true], [differently, false]] as const) {
      for (const [size, buffer] of [[1, 8], [1 << 20, 1 << 20]] as const) {
        const got: { value: unknown; matched: boolean }[] = [];
        const rest = await readJsonStreaming(chunks(text, size), "resources", (value, _i, m) => got.push({ value, matched: m }), buffer, (i) => tricky[i]);
        assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text), `${compact}/${matched}/${size}`);
        got.forEach((g, i) => assert.equal(g.matched, matched && true, `${compact}/${matched}/${size}: element ${i}`));
      }
    }
  }
});

test("a guess that JSON.stringify would write otherwise, or leave out, is never taken for the element", async () => {
  class Stamp {
    toJSON() {
      return "stamp";
    }
  }
  const guesses: unknown[] = [
    { key: "a", when: new Stamp() }, // toJSON
    { key: "b", gone: undefined }, // a member JSON.stringify leaves out
    { key: "c", list: [undefined, () => 1] }, // written as nulls in an array, which parse to nulls
  ];
  const written = [{ key: "a", when: "stamp" }, { key: "b" }, { key: "c", list: [null, null] }];
  for (const text of [JSON.stringify({ resources: written }), JSON.stringify({ resources: written }, null, 2)]) {
    const got: { value: unknown; matched: boolean }[] = [];
    const rest = await readJsonStreaming(chunks(text, 5), "resources", (value, _i, m) => got.push({ value, matched: m }), 16, (i) => guesses[i]);
    assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text));
    assert.deepEqual(got.map((g) => g.matched), [false, false, false]);
  }
});

test("random values: every element is the value JSON.parse gives for its text, and matched exactly when its text is the guess's", async () => {
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const chars = ['a', 'Z', '0', ' ', '"', "\\", "/", "\n", "\u0001", "é", "✓", "😀", "\ud800", "\udc00"];
  const str = () => Array.from({ length: next(6) }, () => chars[next(chars.length)]).join("");
  const value = (depth: number): unknown => {
    const k = next(depth > 2 ? 4 : 6);
    if (k === 0) return str();
    if (k === 1) return [0, 1, -1, 0.5, 1e-9, 3e30, 42][next(7)];
    if (k === 2) return [true, false, null][next(3)];
    if (k === 3) return next(2) ? "" : 7;
    if (k === 4) return Array.from({ length: next(3) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: next(4) }, () => [str(), value(depth + 1)]));
  };
  for (let round = 0; round < 40; round++) {
    const guesses = Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, v: value(0) }));
    // Some elements written as guessed, some drifted by one small change.
    const written = guesses.map((g) => (next(3) === 0 ? { ...g, v: next(2) ? value(0) : [g.v] } : g));
    const compact = next(2) === 0;
    const text = compact ? JSON.stringify({ resources: written }) : JSON.stringify({ resources: written }, null, 2);
    const got: { value: unknown; matched: boolean }[] = [];
    const rest = await readJsonStreaming(chunks(text, 1 + next(40)), "resources", (v, _i, m) => got.push({ value: v, matched: m }), 16, (i) => guesses[i]);
    assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text), `round ${round}`);
    got.forEach((g, i) => assert.equal(g.matched, JSON.stringify(written[i]) === JSON.stringify(guesses[i]), `round ${round}, element ${i}`));
  }
});

test("guesses stop after 16 misses in a row without a hit; a file written otherwise reads as before", async () => {
  const many = Array.from({ length: 40 }, (_, i) => ({ ...resources[0]!, key: `k8s/c1/Deployment/ns/app-${i}` }));
  const text = JSON.stringify({ resources: many }, null, 4); // four-space indentation: never the guessed bytes
  let guessed = 0;
  const got: unknown[] = [];
  const rest = await readJsonStreaming(chunks(text, 1000), "resources", (v, _i, matched) => (assert.equal(matched, false), got.push(v)), 4096, (i) => (guessed++, many[i]));
  assert.deepEqual({ ...rest, resources: got }, JSON.parse(text));
  assert.equal(guessed, 16);
});

test("elements indented by two spaces per level at any column match their guess (even and odd columns, non-ASCII text)", async () => {
  const values = [...resources, { ...resources[0]!, key: "k8s/c1/ConfigMap/ns/grüße", note: "naïve — ✓" }];
  for (const column of [1, 2, 3, 6, 8]) {
    const pad = " ".repeat(column);
    const text = `{"resources": [\n${pad}${values.map((v) => JSON.stringify(v, null, 2).replaceAll("\n", `\n${pad}`)).join(`,\n${pad}`)}\n]}`;
    for (const [size, buffer] of [[5, 16], [1 << 20, 1 << 20]] as const) {
      const got: { value: unknown; matched: boolean }[] = [];
      const rest = await readJsonStreaming(chunks(text, size), "resources", (value, _i, matched) => got.push({ value, matched }), buffer, (i) => values[i]);
      assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text), `column ${column}`);
      got.forEach((g, i) => assert.equal(g.value, values[i], `column ${column}, element ${i} matched: ${g.matched}`));
    }
  }
});

test("after a hit, guesses stop once the misses outnumber the hits by 16 (a drifted file costs no comparison per element)", async () => {
  const many = Array.from({ length: 60 }, (_, i) => ({ ...resources[0]!, key: `k8s/c1/Deployment/ns/app-${i}` }));
  // The first two elements as guessed, the rest drifted (an extra field): 2 hits, then misses.
  const written = many.map((r, i) => (i < 2 ? r : { ...r, drifted: true }));
  const text = JSON.stringify({ resources: written }, null, 2);
  let guessed = 0;
  const got: unknown[] = [];
  const rest = await readJsonStreaming(chunks(text, 1000), "resources", (v) => got.push(v), 4096, (i) => (guessed++, many[i]));
  assert.deepEqual({ ...rest, resources: got }, JSON.parse(text));
  // Elements 0 and 1 hit, then 18 misses: the misses outnumber the hits by 16.
  assert.equal(guessed, 2 + 18);
});

test("readActualJson: a pretty-printed in-sync file (render --as-actual's format) gives the desired objects, an edited entry its own", async () => {
  const desired: DesiredState = { env: "prod", resources: JSON.parse(JSON.stringify(resources)) };
  const edited = JSON.parse(JSON.stringify(resources));
  edited[1].observed = { process: "stopped" };
  const text = JSON.stringify({ env: "prod", observedAt: null, resources: edited, unreachable: [] }, null, 2) + "\n";
  const state = (await readActualJson(chunks(text, 4096), "actual.json", "prod", desired, 1 << 16))!;
  assert.deepEqual(state, parseActualState(text, "actual.json", "prod", desired));
  assert.equal(state.resources[0], desired.resources[0]);
  assert.notEqual(state.resources[1], desired.resources[1]);
  assert.equal(state.resources[2], desired.resources[2]);
  assert.equal(state.resources[3], desired.resources[3]);
});

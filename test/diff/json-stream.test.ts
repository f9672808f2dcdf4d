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
      // Each element is guessed; after the first hit the rest as one run, which asks one past the end (4) to
      // find it; in the drifted file that run misses and its elements are guessed again one at a time.
      assert.deepEqual(guesses, changed < 0 ? [0, 1, 2, 3, 4] : [0, 1, 2, 3, 4, 1, 2, 3]);
    }
  }
});

test("after a hit, the next elements are guessed as runs of 16; a run with a drifted element is guessed again one at a time", async () => {
  const many = Array.from({ length: 40 }, (_, i) => ({ ...resources[i % resources.length]!, key: `k8s/c1/Deployment/ns/app-${i}` }));
  const written = many.map((r, i) => (i === 20 ? { ...r, drifted: true } : r));
  // Compact, render --as-actual's layout (elements four spaces in), and a deeper column.
  const deeper = `{"resources": [\n      ${written.map((v) => JSON.stringify([[[v]]], null, 2).split("\n").slice(3, -3).join("\n").trimStart()).join(",\n      ")}\n]}`;
  for (const text of [JSON.stringify({ resources: written }), JSON.stringify({ env: "prod", resources: written }, null, 2), deeper]) {
    // A buffer smaller than one run's text: it grows to hold it.
    for (const [size, buffer] of [[7, 64], [1 << 20, 1 << 20]] as const) {
      const got: { value: unknown; matched: boolean }[] = [];
      const guesses: number[] = [];
      const rest = await readJsonStreaming(chunks(text, size), "resources", (value, _i, matched) => got.push({ value, matched }), buffer, (i) => (guesses.push(i), many[i]));
      assert.deepEqual({ ...rest, resources: got.map((g) => g.value) }, JSON.parse(text), `${size}/${buffer}: ${text.slice(0, 30)}`);
      got.forEach((g, i) => assert.equal(g.value === many[i] && g.matched, i !== 20, `${text.slice(0, 30)}: element ${i}`));
      const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
      // 0 alone; run 1–16 hits; run 17–32 misses (20); 17–32 alone (20 misses, 21 hits again); run 33–40 (40 is
      // past the end).
      assert.deepEqual(guesses, [0, ...range(1, 17), ...range(17, 33), ...range(17, 33), ...range(33, 41)]);
    }
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

test("after a hit, guesses stop once the misses outnumber the hits by 16 (a drifted file costs no stringify per element)", async () => {
  const many = Array.from({ length: 60 }, (_, i) => ({ ...resources[0]!, key: `k8s/c1/Deployment/ns/app-${i}` }));
  // The first two elements as guessed, the rest drifted (an extra field): 2 hits, then misses.
  const written = many.map((r, i) => (i < 2 ? r : { ...r, drifted: true }));
  const text = JSON.stringify({ resources: written }, null, 2);
  let guessed = 0;
  const got: unknown[] = [];
  const rest = await readJsonStreaming(chunks(text, 1000), "resources", (v) => got.push(v), 4096, (i) => (guessed++, many[i]));
  assert.deepEqual({ ...rest, resources: got }, JSON.parse(text));
  // Element 0 alone (a hit), a run of 16 from element 1 (a miss), element 1 again alone (a hit), then 18 misses.
  assert.equal(guessed, 1 + 16 + 1 + 18);
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

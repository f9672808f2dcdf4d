// The simple-form YAML parser (src/config/yaml-simple.ts) against js-yaml: on every input it either gives up or
// builds exactly the value js-yaml builds (types, key order, -0 and all); js-yaml's errors are never its values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { constructFromEvents, parseEvents } from "js-yaml";
import { SCHEMA, parseYaml } from "../../src/config/yaml.js";
import { parseSimpleYaml, simpleTags } from "../../src/config/yaml-simple.js";
import { buildPositionMap, escapePointer } from "../../src/config/positions.js";
import { generateRepo, FLEET } from "../../bench/plan/generate.js";
import { API_SPEC, BASE_REPO, DB_SPEC, PROD_ENV } from "./helpers.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const TAGS = simpleTags(SCHEMA);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** js-yaml's one document, or the error it throws (what parseYaml's slow path sees). */
function jsYaml(text: string): { doc: unknown } | { error: unknown } {
  try {
    const docs = constructFromEvents(parseEvents(text, {}), { source: text, schema: SCHEMA });
    return docs.length === 1 ? { doc: docs[0] } : { error: `${docs.length} documents` };
  } catch (error) {
    return { error };
  }
}

/** Gives up, or equals js-yaml's value exactly. Returns whether the simple path took the text. The numbers it
 * records as written are those (and as) the position map built from js-yaml's events says. */
function agrees(text: string): boolean {
  const plains = new Map<string, string>();
  const simple = parseSimpleYaml(text, TAGS, plains);
  if (simple === undefined) return false;
  const slow = jsYaml(text);
  assert.ok("doc" in slow, `simple path accepted what js-yaml rejects (${String((slow as { error: unknown }).error)}):\n${text}`);
  assert.deepStrictEqual(simple, slow.doc, text);
  assert.equal(JSON.stringify(simple), JSON.stringify(slow.doc), `key order:\n${text}`);
  const full = buildPositionMap(text, parseEvents(text, {}));
  const numbers: string[] = [];
  const walk = (v: unknown, pointer: string): void => {
    if (typeof v === "number") numbers.push(pointer);
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) walk(x, `${pointer}/${escapePointer(k)}`);
  };
  walk(simple, "");
  assert.deepEqual([...plains.keys()].sort(), numbers.sort(), `numbers recorded:\n${text}`);
  for (const [pointer, written] of plains) assert.equal(written, full.plainText(pointer), `${pointer} as written:\n${text}`);
  return true;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === ".git") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yamlFiles(p, out);
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("takes the config files amphi's examples, tests and benchmarks are written in, with js-yaml's values", () => {
  const dir = generateRepo(mkdtempSync(join(tmpdir(), `amphi-yaml-simple-${process.pid}-`)), 12, 4, FLEET);
  try {
    const generated = [...yamlFiles(join(dir, "apps")), join(dir, "environments", "prod.yaml")].map((f) => readFileSync(f, "utf8"));
    const mustTake = [...generated, API_SPEC, DB_SPEC, PROD_ENV, ...yamlFiles(join(ROOT, "examples/config/apps")).map((f) => readFileSync(f, "utf8"))];
    for (const text of mustTake) assert.ok(agrees(text), `the simple path gave up on:\n${text}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Every other YAML text in the repo: taken or not, never a different value.
  for (const f of yamlFiles(join(ROOT, "examples"))) agrees(readFileSync(f, "utf8"));
  for (const f of yamlFiles(join(ROOT, "test"))) agrees(readFileSync(f, "utf8"));
  for (const text of Object.values(BASE_REPO)) agrees(text);
});

test("scalars resolve as js-yaml's core schema resolves them; what it does not handle, it leaves to js-yaml", () => {
  const values = [
    "1", "-1", "+1", "0", "-0", "007", "0o17", "0x1F", "0xg", "1_000", "1.0", "1.10", "-.5", ".5", "1e3", "1E-3", "6.02e+23", ".inf", "-.Inf", ".NaN", ".nan",
    "true", "True", "TRUE", "tRUE", "false", "yes", "no", "on", "off", "y", "n", "null", "Null", "NULL", "nULL", "~", "",
    "a#b", "a #b", "a  # b", "http://x:80/a?b=c&d", "a: b", "a:", "a:b", "-a", "--", "-", "- a", "?a", ":a", ",a", "[a", "{a", "]", "}", "a]", "a}", "a,b",
    "#x", "&a x", "*a", "!x y", "!!str 1", "|", ">", "%x", "@x", "`x", "'a'", "'a''b'", "'a' x", "'a'#x", "'a' #x", "''", '""', '"a"', '"a\\nb"', '"a\\"b"', '"a" # c', '"a"x', '"#"',
    "'unterminated", '"unterminated', "[]", "[ ]", "[a]", "[a, b]", "[1, true, null, ~, 0x10]", "[a,b]", "[a, [b]]", "[a,]", "[,a]", "[a] # c", "[a]x", "[-1, -.5, -a]", "[a b]", "[a:b]", "{}", "{ }", "{a: 1}", "{} # c", "{}x",
    "{a: 1, b: \"x\"}", "{a:1}", "{\"a\":1}", "{'a':1}", "{a: [1, 2], b: {c: d}}", "[a, {b: c}]", "{a: b,}", "{a: }", "{a:}", "{a}", "[a: b]", "{a: b c}", "{a: x:1}",
    "{a: host:18000}", "{? a}", "{a: 1, a: 2}", "{a: -}", "{a: -1}", "{a: 'b'' c', d: \"e, f\"}", "{a: b} # c", "{a: b}#c", "[[]]", "[{}]", "{a: {}}", "[a, ]", "[ a , b ]", "{ a : b }",
    "a   ", "a b c", "2026-12-05", "1.0.5", "12:30", "<<", "=", "__proto__", "constructor",
  ];
  const keys = ["a", "A_b", "1", "1.0", "01", "0x10", "true", "null", "~", "__proto__", "constructor", "app.kubernetes.io/name", "a-b", "-a", "a b", "<<", '"q"', "'q'", "? a", "a:b", "[a]"];
  for (const v of values) {
    agrees(`key: ${v}\n`);
    agrees(`- ${v}\n`);
    agrees(`a:\n  b: ${v}\n  c: 1\n`);
    agrees(`list:\n- ${v}\n- x\n`);
  }
  for (const k of keys) {
    agrees(`${k}: v\n`);
    agrees(`x: 1\n${k}: v\n`);
    agrees(`- ${k}: v\n  y: 2\n`);
  }
  // Spot checks that the simple path really resolves (not only gives up).
  assert.deepStrictEqual(parseSimpleYaml("a: 0x1F\nb: 1.10\nc: ~\nd: -0\ne: [1, x]\n1.0: k\n", TAGS), { a: 31, b: 1.1, c: null, d: -0, e: [1, "x"], "1": "k" });
  for (const dup of ["a: 1\na: 2\n", "1: a\n01: b\n", "- a: 1\n  a: 2\n"]) {
    assert.equal(parseSimpleYaml(dup, TAGS), undefined, dup);
    assert.ok("error" in jsYaml(dup), dup);
  }
});

test("structure: nesting, sequences at the key's indentation, comments; odd layouts are left to js-yaml", () => {
  const texts = [
    "a:\n- 1\n- 2\nb: 3\n",
    "a:\n  - 1\n  - 2\nb: 3\n",
    "- a: 1\n  b:\n  - x\n  c: 2\n- d\n",
    "- - x\n",
    "-\n  a: 1\n",
    "- \n",
    "a:\n  b:\n    c:\n      d: 1\n  e: 2\n",
    "a: 1\n  b: 2\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: b\n  c\n",
    "a: b\nc\n",
    "  a: 1\n  b: 2\n",
    "  a: 1\nb: 2\n",
    "# head\na: 1 # tail\n\n   \n  # indented comment\nb:   # nothing\nc: 2\n",
    "a: 1\n---\nb: 2\n",
    "---\na: 1\n",
    "a: 1\n...\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: 1\r\nb: 2\r\n",
    "a:\t1\n",
    "a: é\n",
    "\uFEFFa: 1\n",
    "a: 1\n- b\n",
    "- a\nb: 1\n",
    "a:\n- b\n  c: 1\n",
    "a:\n- b: 1\n   c: 2\n",
    "plain scalar\n",
    "",
    "\n\n",
    "# only a comment\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: 'multi\n  line'\n",
    '"a": 1\n',
    "? a\n: 1\n",
    "<<: {a: 1}\nb: 2\n",
    "a:\n  - b\n  -\n",
    `${"a:\n".repeat(1)}${Array.from({ length: 60 }, (_, i) => `${"  ".repeat(i + 1)}k${i}:\n`).join("")}`,
  ];
  for (const t of texts) agrees(t);
  assert.ok(agrees("a:\n- 1\n- 2\nb: 3\n"));
  assert.ok(agrees("- a: 1\n  b:\n  - x\n  c: 2\n- d\n"));
  assert.ok(agrees("# head\na: 1 # tail\n\n   \n  # indented comment\nb:   # nothing\nc: 2\n"));
});

test("thousands of mutated app specs: given up on or equal to js-yaml's value, never anything else", () => {
  const random = rng(14);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const pieces = [" ", "  ", "\n", "-", "- ", ":", ": ", "#", " #", "'", '"', "[", "]", "{", "}", ",", "&a ", "*a", "!", "|", ">", "?", "\t", "\\", "0", "1.5", "true", "~", "x", "<<"];
  const seeds = [API_SPEC, DB_SPEC, PROD_ENV];
  let taken = 0;
  for (let i = 0; i < 3000; i++) {
    let text = pick(seeds);
    for (let m = 1 + Math.floor(random() * 3); m > 0; m--) {
      const at = Math.floor(random() * text.length);
      const kind = random();
      if (kind < 0.5) text = text.slice(0, at) + pick(pieces) + text.slice(at);
      else if (kind < 0.8) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 3));
      else {
        const lines = text.split("\n");
        const l = Math.floor(random() * lines.length);
        lines.splice(l, 0, lines[Math.floor(random() * lines.length)]!);
        text = lines.join("\n");
      }
    }
    if (agrees(text)) taken++;
  }
  assert.ok(taken > 300, `only ${taken} of 3000 mutated specs took the simple path`);
});

test("parseYaml: the same document and the same located problems whichever path reads the file", () => {
  const ok = parseYaml("apps/a/spec.yaml", API_SPEC);
  assert.ok(!Array.isArray(ok));
  assert.deepStrictEqual(ok.doc, (jsYaml(API_SPEC) as { doc: unknown }).doc);
  // Positions come from js-yaml's events on demand, also for a file the simple path read.
  assert.deepEqual(ok.loc.problem("/spec", "x"), { file: "apps/a/spec.yaml", line: 4, column: 3, pointer: "/spec", message: "x", severity: "error" });
  const dup = parseYaml("apps/a/spec.yaml", "apiVersion: v1\nkind: Application\nkind: Application\n");
  assert.ok(Array.isArray(dup));
  assert.match(dup[0]!.message, /duplicate key "kind"/);
});

test("a number kept as written (an env value, a version) comes from the simple parse: the file is not parsed again for it", () => {
  const parsed = parseYaml("apps/a/spec.yaml", "spec:\n  package:\n    version: 1.10\n  env:\n  - name: PORT\n    value: 8080\n    ports: [80, 1.50]\n");
  assert.ok(!Array.isArray(parsed));
  const positions = parsed.loc.positions;
  assert.deepEqual(
    ["/spec/package/version", "/spec/env/0/value", "/spec/env/0/ports/1"].map((p) => positions.plainText(p)),
    ["1.10", "8080", "1.50"],
  );
  assert.equal((positions as unknown as { built: unknown }).built, null, "the position map was not built");
  assert.equal(positions.plainText("/spec/env/0/name"), "PORT"); // not a number: from the map, built now
  assert.notEqual((positions as unknown as { built: unknown }).built, null);
});

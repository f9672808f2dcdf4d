// Small pieces of config loading on their own: the YAML position map, did-you-mean, cycles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEvents } from "js-yaml";
import { buildPositionMap } from "../../src/config/positions.js";
import { findCycles } from "../../src/config/rules-repo.js";
import { closest, editDistance } from "../../src/config/suggest.js";
import type { AppModel } from "../../src/model/index.js";

function positions(src: string) {
  const map = buildPositionMap(src, parseEvents(src, {}));
  return (pointer: string, where: "key" | "value" = "value") => {
    const p = map.at(pointer, where);
    return `${p.line}:${p.column}`;
  };
}

test("position map: block and flow collections, quoted scalars, empty values, escaped keys", () => {
  const at = positions('a:\n  - x: "q"\n    y: [1, \'two\']\n  - {z: 3}\nb:\n"c/d~e": 5\n');
  assert.equal(at("/a", "key"), "1:1");
  assert.equal(at("/a"), "2:3");
  assert.equal(at("/a/0"), "2:5");
  assert.equal(at("/a/0/x"), "2:8", "points at the opening quote");
  assert.equal(at("/a/0/y/1"), "3:12");
  assert.equal(at("/a/1/z", "key"), "4:6");
  assert.equal(at("/b"), "5:1", "an empty value is located at its key");
  assert.equal(at("/c~1d~0e", "key"), "6:1");
  assert.equal(at("/a/0/missing/deeper"), "2:5", "falls back to the nearest ancestor");
  assert.equal(at("/zzz"), "1:1");
});

test("position map: anchors and aliases, CRLF line ends, plain text of numbers", () => {
  const src = "a: &x 1.10\r\nb: *x\r\nc: '2'\r\n";
  const map = buildPositionMap(src, parseEvents(src, {}));
  assert.deepEqual(map.at("/a", "value"), { line: 1, column: 4 });
  assert.deepEqual(map.at("/b", "value"), { line: 2, column: 4 });
  assert.equal(map.plainText("/a"), "1.10");
  assert.equal(map.plainText("/c"), null, "quoted scalars are strings already");
});

test("position map from a function: parsed again only when first read, then the same as from events", () => {
  const src = "a: &x 1.10\nb:\n  - c: 2\n";
  let parses = 0;
  const lazy = buildPositionMap(src, () => (parses++, parseEvents(src, {})));
  const eager = buildPositionMap(src, parseEvents(src, {}));
  assert.equal(parses, 0, "a valid file whose positions nobody asks for is not parsed again");
  for (const p of ["/a", "/b/0/c", "/b/9"]) assert.deepEqual(lazy.at(p, "key"), eager.at(p, "key"));
  assert.equal(lazy.plainText("/a"), "1.10");
  assert.deepEqual(lazy.keysOf("/b/0"), ["c"]);
  assert.equal(parses, 1);
});

test("position map: the keys of a mapping as written, in document order", () => {
  const src = 'split: {1.0: 40, "2.0": 30, a/b: 1, {c: d}: 2}\nnested:\n  x:\n    y: 1\n  z: 2\nlist: [1]\n';
  const map = buildPositionMap(src, parseEvents(src, {}));
  assert.deepEqual(map.keysOf("/split"), ["1.0", "2.0", "a/b"], "complex keys are left out");
  assert.deepEqual(map.keysOf("/nested"), ["x", "z"], "children only, not grandchildren");
  assert.deepEqual(map.keysOf(""), ["split", "nested", "list"]);
  assert.deepEqual(map.keysOf("/list"), ["0"], "a sequence's indices");
  assert.deepEqual(map.keysOf("/missing"), []);
});

test("edit distance counts a transposition as one edit; hints only for likely typos", () => {
  assert.equal(editDistance("healtCheck", "healthCheck"), 1);
  assert.equal(editDistance("hsotGroups", "hostGroups"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(closest("hostgroups", ["hosts", "hostGroups"]), "hostGroups");
  assert.equal(closest("replicas", ["services", "container", "package", "dependsOn"]), null);
  assert.equal(closest("db", ["api"]), null);
});

function app(name: string, dependsOn: string[]): AppModel {
  return { name, file: `apps/${name}/spec.yaml`, services: [], container: null, package: null, dependsOn, specHash: "" };
}

test("cycles are found once each, rotated to their smallest name; self-edges and DAGs are not cycles", () => {
  const apps = [app("c", ["a"]), app("a", ["b"]), app("b", ["c", "d"]), app("d", ["d", "e"]), app("e", ["d"]), app("f", ["a"])];
  assert.deepEqual(findCycles(apps), [
    ["a", "b", "c", "a"],
    ["d", "e", "d"],
  ]);
  assert.deepEqual(findCycles([app("x", ["y"]), app("y", ["z"]), app("z", []), app("w", ["x", "z"])]), []);
});

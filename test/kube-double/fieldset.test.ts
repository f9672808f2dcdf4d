// Field sets of the kube double: the paths an object sets, FieldsV1 encoding, conflict path strings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodePath, encodePath, fromFieldsV1, leafPaths, pathString, toFieldsV1 } from "../support/kube-apiserver/fieldset.js";

const pod = {
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: { spec: { containers: [{ name: "app", image: "x", ports: [{ containerPort: 80 }], args: ["-v"] }] } },
  },
};

test("leaf paths: keyed list items and their fields, atomic selector and args, defaulted key fields", () => {
  const paths = leafPaths(pod).map(pathString).sort();
  assert.deepEqual(paths, [
    ".spec.selector",
    '.spec.template.spec.containers[name="app"]',
    '.spec.template.spec.containers[name="app"].args',
    '.spec.template.spec.containers[name="app"].image',
    '.spec.template.spec.containers[name="app"].name',
    '.spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"]',
    '.spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].containerPort',
  ]);
});

test("FieldsV1 round-trips, with '.' on items that also have children", () => {
  const set = new Set(leafPaths(pod).map(encodePath));
  const tree = toFieldsV1(set) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const item = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}'];
  assert.deepEqual(Object.keys(item).sort(), [".", "f:args", "f:image", "f:name", "f:ports"]);
  assert.deepEqual(tree["f:spec"]["f:selector"], {});
  assert.deepEqual([...fromFieldsV1(tree)].sort(), [...set].sort());
  assert.deepEqual(decodePath(encodePath(["f:a", 'k:{"name":"x"}'])), ["f:a", 'k:{"name":"x"}']);
});

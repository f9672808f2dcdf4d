// Bad input, part 1: files that are not valid YAML, not one document, misnamed or misplaced.
// Each case changes the valid base repo and lists every problem expected: file, line, column, pointer, message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { problemsOf, yaml, type BadCase } from "./helpers.js";

const CASES: BadCase[] = [
  {
    name: "unclosed flow sequence",
    files: { "apps/db/spec.yaml": "apiVersion: v1\nkind: Application\nspec:\n  services: [a, b\n  container: x\n" },
    expect: ["apps/db/spec.yaml:5:3: invalid YAML: deficient indentation"],
  },
  {
    name: "tab indentation",
    files: { "apps/db/spec.yaml": "apiVersion: v1\nkind: Application\nspec:\n\tservices: []\n" },
    expect: ["apps/db/spec.yaml:4:1: invalid YAML: tab characters must not be used in indentation; indent with spaces, not tabs"],
  },
  {
    name: "empty file",
    files: { "apps/db/spec.yaml": "" },
    expect: ["apps/db/spec.yaml:0:0: empty file; expected a YAML mapping with apiVersion, kind and spec"],
  },
  {
    name: "file with only comments",
    files: { "environments/prod.yaml": "# prod is being rewritten\n" },
    expect: ["environments/prod.yaml:0:0: empty file; expected a YAML mapping with apiVersion, kind and spec"],
  },
  {
    name: "duplicate key",
    files: {
      "apps/db/spec.yaml": yaml`
        apiVersion: v1
        kind: Application
        spec:
          services:
          - name: db
            ports:
            - targetPort: 5432
              protocol: tcp
              targetPort: 5433
      `,
    },
    expect: [`apps/db/spec.yaml:9:7 /spec/services/0/ports/0/targetPort: duplicate key "targetPort"; a key may appear only once in a mapping`],
  },
  {
    name: "two YAML documents in one file",
    files: { "apps/db/spec.yaml": "apiVersion: v1\nkind: Application\n---\nspec: {}\n" },
    expect: ["apps/db/spec.yaml:4:1: more than one YAML document in the file; amphi reads one document per file; remove the extra `---`"],
  },
  {
    name: "document is a list, not a mapping",
    files: { "apps/db/spec.yaml": "- apiVersion: v1\n" },
    expect: ["apps/db/spec.yaml:1:1: must be a mapping, not a list"],
  },
  {
    name: "spec.yml instead of spec.yaml",
    files: { "apps/db/spec.yaml": null, "apps/db/spec.yml": "apiVersion: v1\n" },
    expect: [
      "apps/db/spec.yml:0:0: amphi reads spec.yaml, not spec.yml; rename the file to spec.yaml",
      `environments/prod.yaml:23:10 /spec/placements/2/app: unknown app "db"; apps: api`,
    ],
  },
  {
    name: "environment file with .yml extension, and an app folder without spec (a warning)",
    files: { "environments/prod.yaml": null, "environments/prod.yml": "x: 1\n", "apps/docs/README.md": "notes\n" },
    expect: [
      "apps/docs:0:0: warning: app folder has no spec.yaml; ignored",
      "environments/prod.yml:0:0: amphi reads environments/*.yaml, not .yml; rename the file to prod.yaml",
    ],
  },
  {
    name: "folder name that is not a DNS label",
    files: { "apps/db/spec.yaml": null, "apps/Data_Base/spec.yaml": yaml`
      apiVersion: v1
      kind: Application
      spec:
        services:
        - name: db
          ports:
          - targetPort: 5432
            protocol: tcp
    ` },
    expect: [
      `apps/Data_Base/spec.yaml:0:0: the app name comes from the folder name: "Data_Base" is not a DNS label (lowercase letters, digits and "-", at most 63); rename the folder or set metadata.name`,
      `environments/prod.yaml:23:10 /spec/placements/2/app: unknown app "db"; apps: Data_Base, api`,
    ],
  },
];

for (const c of CASES) {
  test(`bad file: ${c.name}`, async () => {
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

test("bad file: a directory that is no config repo at all is an error, not an empty model", async () => {
  // Why it matters: an empty model would plan the deletion of everything amphi runs.
  const got = await problemsOf({ "apps/api/spec.yaml": null, "apps/db/spec.yaml": null, "environments/prod.yaml": null });
  assert.equal(got.length, 1);
  assert.match(got[0]!, /^\.:0:0: no apps\/ or environments\/ files in \/\S+; a config repo has apps\/<app>\/spec.yaml and environments\/<env>.yaml/);
});

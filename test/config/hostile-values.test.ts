// Hostile values: strings that would take a path out of its base or break what they are written into.
// A package version names a release directory on the hosts (`<baseDir>/apps/<app>/releases/<version>-<sha8>`),
// so `../../billing/releases/2.3.0` would let one app rewrite another's start command and env; a NUL byte can
// reach no environment variable, file or shell command intact. Each is a located error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { API_SPEC, DB_SPEC, PROD_ENV, problemsOf, type BadCase } from "./helpers.js";

const VERSION_RULE = `not a safe version (letters, digits, ".", "_", "+" and "-", starting with a letter or digit, no "..", at most 128 characters); it names a release directory on the hosts`;
const NUL = `contains a NUL byte; no environment variable, file or shell command can carry one`;

/** The DB spec with `lines` appended to its package (indented as package fields). */
const dbPackage = (lines: string): string => `${DB_SPEC}${lines.replace(/^/gm, "    ")}\n`;

const CASES: BadCase[] = [
  {
    name: "a version that climbs into another app's releases",
    files: { "apps/api/spec.yaml": API_SPEC.replace("version: 1.0.0", "version: ../../billing/releases/2.3.0") },
    expect: [`apps/api/spec.yaml:14:14 /spec/package/version: "../../billing/releases/2.3.0" is ${VERSION_RULE}`],
  },
  {
    name: "versions with a slash, a leading dash or dot, a space, or too long",
    files: {
      "apps/api/spec.yaml": API_SPEC.replace("version: 1.0.0", "version: 1.0/evil"),
      "apps/db/spec.yaml": DB_SPEC.replace('version: "15"', 'version: "-rf"'),
      "environments/prod.yaml": PROD_ENV.replace("  - app: db\n    hostGroup: vms", "  - app: db\n    hostGroup: vms\n    overrides:\n      package: {version: .hidden}")
        .replace("  - app: api\n    hostGroup: vms", `  - app: api\n    hostGroup: vms\n    overrides:\n      package: {version: "${"9".repeat(129)}"}`),
    },
    expect: [
      `apps/api/spec.yaml:14:14 /spec/package/version: "1.0/evil" is ${VERSION_RULE}`,
      `apps/db/spec.yaml:10:14 /spec/package/version: "-rf" is ${VERSION_RULE}`,
      `environments/prod.yaml:24:26 /spec/placements/1/overrides/package/version: "${"9".repeat(57)}…" is ${VERSION_RULE}`,
      `environments/prod.yaml:28:26 /spec/placements/2/overrides/package/version: ".hidden" is ${VERSION_RULE}`,
    ],
  },
  {
    name: "a version written as a number is checked as written (-1, .5)",
    files: {
      "apps/api/spec.yaml": API_SPEC.replace("version: 1.0.0", "version: -1"),
      "apps/db/spec.yaml": DB_SPEC.replace('version: "15"', "version: .5"),
    },
    expect: [
      `apps/api/spec.yaml:14:14 /spec/package/version: "-1" is ${VERSION_RULE}`,
      `apps/db/spec.yaml:10:14 /spec/package/version: ".5" is ${VERSION_RULE}`,
    ],
  },
  {
    name: "ordinary versions stay valid: 1.0.0-rc.1+build.5, v15_2024, a number",
    files: {
      "apps/api/spec.yaml": API_SPEC.replace("version: 1.0.0", "version: 1.0.0-rc.1+build.5"),
      "apps/db/spec.yaml": DB_SPEC.replace('version: "15"', "version: 1.10"),
      "environments/prod.yaml": PROD_ENV.replace("sidecar: {image: envoy:1, binary: /usr/local/bin/envoy}", `sidecar: {image: envoy:1, package: {version: v15_2024, path: packages/db.tar.gz, sha256: "${"c".repeat(64)}", start: ./envoy}}`),
    },
    expect: [],
  },
  {
    name: "a NUL byte in an env value, a start command, an image and a key",
    files: {
      "apps/db/spec.yaml": dbPackage(`env:\n- name: MODE\n  value: "fast\\0; rm -rf /"\n- {name: OK, value: "plain"}`).replace("start: ./db", 'start: "./db\\0 --evil"'),
      "apps/api/spec.yaml": API_SPEC.replace("image: reg.example/api:1.0.0", 'image: "reg.example/api:1.0.0\\0"').replace("  services:", '  "x-note\\0": 1\n  services:'),
    },
    expect: [
      `apps/api/spec.yaml:4:3 /spec/x-note\\u0000: the key ${NUL}`,
      `apps/api/spec.yaml:13:12 /spec/container/image: ${NUL}`,
      `apps/db/spec.yaml:13:12 /spec/package/start: ${NUL}`,
      `apps/db/spec.yaml:16:14 /spec/package/env/0/value: ${NUL}`,
    ],
  },
  {
    name: "a NUL byte in an environment's override env value and baseDir",
    files: {
      "environments/prod.yaml": PROD_ENV.replace("  - name: vms\n", '  - name: vms\n    baseDir: "/opt/amphi\\0x"\n')
        .replace("  - app: db\n    hostGroup: vms", '  - app: db\n    hostGroup: vms\n    overrides:\n      env: [{name: K, value: "v\\0"}]'),
    },
    expect: [
      `environments/prod.yaml:13:14 /spec/hostGroups/0/baseDir: ${NUL}`,
      `environments/prod.yaml:27:30 /spec/placements/2/overrides/env/0/value: ${NUL}`,
    ],
  },
  {
    name: "a baseDir that climbs with ..",
    files: { "environments/prod.yaml": PROD_ENV.replace("  - name: vms\n", "  - name: vms\n    baseDir: /opt/amphi/../../etc\n") },
    expect: [`environments/prod.yaml:13:14 /spec/hostGroups/0/baseDir: baseDir "/opt/amphi/../../etc" contains ".."; write the directory itself, e.g. /opt/amphi`],
  },
];

for (const c of CASES) {
  test(`hostile values: ${c.name}`, async () => {
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

test("hostile values: at the point of use, a release directory name is never built from an unsafe version", async () => {
  const { releaseName } = await import("../../src/hosts/task.js");
  const instance = (version: string) => ({ app: "api", version, sha256: "a".repeat(64) }) as Parameters<typeof releaseName>[0];
  assert.equal(releaseName(instance("1.0.0-rc.1+build.5")), "1.0.0-rc.1+build.5-aaaaaaaa");
  for (const bad of ["../../billing/releases/2.3.0", "a/b", "-rf", ".hidden", "1..2", "", "v\0"]) {
    assert.throws(() => releaseName(instance(bad)), (e: Error) => e.name === "TaskError" && e.message.startsWith(`api: refusing version ${JSON.stringify(bad)}`), bad);
  }
});

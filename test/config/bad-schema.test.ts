// Bad input, part 2: what the JSON Schemas reject — types, unknown keys, names, patterns, formats.
// Each case changes the valid base repo and lists every problem expected: file, line, column, pointer, message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DB_SPEC, problemsOf, yaml, type BadCase } from "./helpers.js";

/** An app spec: lines 1–4 fixed, the service from line 5, then `extra` (more of `spec`). */
const app = (service: string, extra = "") => `apiVersion: v1\nkind: Application\nspec:\n  services:\n${service}\n${extra}`;

const CASES: BadCase[] = [
  {
    name: "unknown key with a did-you-mean hint",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports:\n    - {targetPort: 5432, protocol: tcp}\n    healtCheck:\n      path: /health") },
    expect: [`apps/db/spec.yaml:8:5 /spec/services/0/healtCheck: unknown key "healtCheck"; did you mean "healthCheck"?`],
  },
  {
    name: "unknown key without a near match lists the allowed keys; x- keys are fine",
    files: { "apps/db/spec.yaml": app("  - name: db\n    x-owner: team-db\n    ports:\n    - {targetPort: 5432, protocol: tcp}", "  replicas: 3\n") },
    expect: [`apps/db/spec.yaml:9:3 /spec/replicas: unknown key "replicas"; allowed keys: services, container, package, dependsOn (and x-… annotations)`],
  },
  {
    name: "protocol not in the enum",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports:\n    - targetPort: 5432\n      protocol: grcp") },
    expect: [`apps/db/spec.yaml:8:17 /spec/services/0/ports/0/protocol: must be one of http, grpc, tcp; did you mean "grpc"?`],
  },
  {
    name: "quoted port number",
    files: { "apps/db/spec.yaml": app(`  - name: db\n    ports:\n    - targetPort: "5432"\n      protocol: tcp`) },
    expect: [`apps/db/spec.yaml:7:19 /spec/services/0/ports/0/targetPort: must be an integer, not "5432"; remove the quotes`],
  },
  {
    name: "port name longer than Kubernetes allows, and one without a letter",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports:\n    - {name: postgres-primary, targetPort: 5432, protocol: tcp}\n    - {name: '5433', targetPort: 5433, protocol: tcp}") },
    expect: [
      `apps/db/spec.yaml:7:14 /spec/services/0/ports/0/name: "postgres-primary" is not a port name (at most 15 lowercase letters, digits and "-", with at least one letter); Kubernetes rejects longer port names`,
      `apps/db/spec.yaml:8:14 /spec/services/0/ports/1/name: "5433" is not a port name (at most 15 lowercase letters, digits and "-", with at least one letter); Kubernetes rejects longer port names`,
    ],
  },
  {
    name: "port out of range",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports:\n    - targetPort: 70000\n      protocol: tcp") },
    expect: ["apps/db/spec.yaml:7:19 /spec/services/0/ports/0/targetPort: must be between 1 and 65535, not 70000"],
  },
  {
    name: "missing spec.services is reported at the parent key",
    files: { "apps/db/spec.yaml": "apiVersion: v1\nkind: Application\nspec:\n  dependsOn: []\n" },
    expect: [`apps/db/spec.yaml:3:1 /spec: missing required key "services"`],
  },
  {
    name: "wrong kind and apiVersion",
    files: { "apps/db/spec.yaml": "apiVersion: v2\nkind: Environment\nspec:\n  services: []\n" },
    expect: [
      `apps/db/spec.yaml:1:13 /apiVersion: must be "v1", not "v2"`,
      `apps/db/spec.yaml:2:7 /kind: must be "Application", not "Environment"`,
      `apps/db/spec.yaml:4:13 /spec/services: must not be empty`,
    ],
  },
  {
    name: "uppercase app name in metadata",
    files: { "apps/db/spec.yaml": "apiVersion: v1\nkind: Application\nmetadata:\n  name: DB\nspec:\n  services: [{name: db, ports: [{targetPort: 5432, protocol: tcp}]}]\n" },
    expect: [
      `apps/db/spec.yaml:4:9 /metadata/name: "DB" is not a DNS label (lowercase letters, digits and "-", at most 63); use lowercase: "db"`,
      `environments/prod.yaml:23:10 /spec/placements/2/app: unknown app "db"; did you mean "DB"?`,
    ],
  },
  {
    name: "path traversal in a service name",
    files: { "apps/db/spec.yaml": app("  - name: ../../etc\n    ports: [{targetPort: 5432, protocol: tcp}]") },
    expect: [`apps/db/spec.yaml:5:11 /spec/services/0/name: "../../etc" is not a DNS label (lowercase letters, digits and "-", at most 63)`],
  },
  {
    name: "shell metacharacters in a host name, and a 64-character cluster name",
    files: {
      "environments/prod.yaml": yaml`
        apiVersion: v1
        kind: Environment
        spec:
          mesh: {serviceIP: 10.255.0.1, sidecar: {image: envoy:1}}
          clusters:
          - name: ${"c".repeat(64)}
            context: eu1
          hostGroups:
          - name: vms
            hosts:
            - name: "vm;rm -rf /"
              address: 10.0.0.1
      `,
    },
    expect: [
      `environments/prod.yaml:6:11 /spec/clusters/0/name: "${"c".repeat(57)}…" is not a DNS label (lowercase letters, digits and "-", at most 63); it has 64 characters`,
      `environments/prod.yaml:11:13 /spec/hostGroups/0/hosts/0/name: "vm;rm -rf /" is not a DNS label (lowercase letters, digits and "-", at most 63)`,
    ],
  },
  {
    name: "bad sha256, and a package with both path and url",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports: [{targetPort: 5432, protocol: tcp}]", "  package:\n    version: 1\n    path: packages/db.tar.gz\n    url: https://example.com/db.tar.gz\n    sha256: abc123\n    start: ./db\n") },
    expect: [
      `apps/db/spec.yaml:7:3 /spec/package: give either "path" or "url", not both`,
      "apps/db/spec.yaml:11:13 /spec/package/sha256: sha256 must be 64 hex digits, got 6 characters; compute it with `sha256sum <file>`",
    ],
  },
  {
    name: "package without path or url, env var with a bad name and a boolean value",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports: [{targetPort: 5432, protocol: tcp}]", `  package:\n    version: "15"\n    sha256: ${"b".repeat(64)}\n    start: ./db\n    env:\n    - {name: 9LIVES, value: true}\n`) },
    expect: [
      `apps/db/spec.yaml:7:3 /spec/package: a package needs "path" (a file in this repo) or "url"`,
      `apps/db/spec.yaml:12:14 /spec/package/env/0/name: "9LIVES" is not an environment variable name (letters, digits and "_", not starting with a digit)`,
      `apps/db/spec.yaml:12:29 /spec/package/env/0/value: must be a string or a number, not true; quote it: "true"`,
    ],
  },
  {
    name: "a string where a mapping belongs gets one type error, nothing about its contents",
    files: { "apps/db/spec.yaml": DB_SPEC.replace("  package:", "  package: nope\n  x-unused:") },
    expect: [`apps/db/spec.yaml:9:12 /spec/package: must be a mapping, not "nope"`],
  },
  {
    name: "health-check path without a leading slash",
    files: { "apps/db/spec.yaml": app("  - name: db\n    ports: [{targetPort: 5432, protocol: tcp}]\n    healthCheck: {path: health}") },
    expect: [`apps/db/spec.yaml:7:25 /spec/services/0/healthCheck/path: "health" must start with "/"`],
  },
  {
    name: "bad serviceIP, duration and host address; mistyped key in the environment",
    files: {
      "environments/prod.yaml": yaml`
        apiVersion: v1
        kind: Environment
        spec:
          mesh:
            serviceIP: 10.255.0
            sidecar: {image: envoy:1}
          consul:
            checkTTL: 15
          hostgroups: []
      `,
    },
    expect: [
      `environments/prod.yaml:5:16 /spec/mesh/serviceIP: "10.255.0" is not an IPv4 address`,
      `environments/prod.yaml:8:15 /spec/consul/checkTTL: must be a string, not 15; quote it: "15"`,
      `environments/prod.yaml:9:3 /spec/hostgroups: unknown key "hostgroups"; did you mean "hostGroups"?`,
    ],
  },
  {
    name: "a maxUnpackedSize without a binary unit",
    files: { "environments/prod.yaml": PROD_WITH_PLACEMENTS("  - app: db\n    hostGroup: vms\n").replace("{name: vms, hosts:", "{name: vms, maxUnpackedSize: 4G, hosts:") },
    expect: [`environments/prod.yaml:7:34 /spec/hostGroups/0/maxUnpackedSize: "4G" is not a size; write a whole number and a unit: 512MiB, 4GiB`],
  },
  {
    name: "placements with neither or both targets",
    files: {
      "environments/prod.yaml": PROD_WITH_PLACEMENTS("  - app: api\n  - app: db\n    cluster: eu1\n    hostGroup: vms\n"),
    },
    expect: [
      `environments/prod.yaml:9:5 /spec/placements/0: a placement needs "cluster" or "hostGroup"`,
      `environments/prod.yaml:11:5 /spec/placements/1/cluster: a placement has either "cluster" or "hostGroup", not both; use two placements to run the app on both`,
    ],
  },
];

function PROD_WITH_PLACEMENTS(placements: string): string {
  return yaml`
    apiVersion: v1
    kind: Environment
    spec:
      mesh: {serviceIP: 10.255.0.1, sidecar: {image: envoy:1}}
      clusters: [{name: eu1, context: eu1}]
      hostGroups:
      - {name: vms, hosts: [{name: vm-1, address: vm-1.example.com}]}
      placements:
  ` + placements;
}

for (const c of CASES) {
  test(`bad schema: ${c.name}`, async () => {
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

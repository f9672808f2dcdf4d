// Bad input, part 3: rules across fields and files — references, clashes, cycles, duplicates, artifacts.
// Cases edit the base files in place (same line numbers), so positions can be read off helpers.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/model/index.js";
import { API_SPEC, DB_SPEC, PROD_ENV, loadChanged, problemsOf, type BadCase } from "./helpers.js";

const ENV = "environments/prod.yaml";
const API = "apps/api/spec.yaml";
const DB = "apps/db/spec.yaml";
const DB_PLACEMENT = "  - app: db\n    hostGroup: vms\n";
const NO_PACKAGE_DB = DB_SPEC.slice(0, DB_SPEC.indexOf("  package:"));
const CACHE = "apiVersion: v1\nkind: Application\nspec:\n  services: [{name: cache, ports: [{targetPort: 6379, protocol: tcp}]}]\n  dependsOn: [api]\n";

const CASES: BadCase[] = [
  {
    name: "placement of an unknown app",
    files: { [ENV]: PROD_ENV.replace("- app: db", "- app: dbb") },
    expect: [`${ENV}:23:10 /spec/placements/2/app: unknown app "dbb"; did you mean "db"?`],
  },
  {
    name: "placement on an unknown cluster",
    files: { [ENV]: PROD_ENV.replace("    cluster: eu1", "    cluster: us1") },
    expect: [`${ENV}:20:14 /spec/placements/0/cluster: unknown cluster "us1"; clusters of this environment: eu1`],
  },
  {
    name: "placement on an unknown host group",
    files: { [ENV]: PROD_ENV.replace(DB_PLACEMENT, "  - app: db\n    hostGroup: legacy\n") },
    expect: [`${ENV}:24:16 /spec/placements/2/hostGroup: unknown host group "legacy"; host groups of this environment: vms`],
  },
  {
    name: "placement on a host outside the group",
    files: { [ENV]: PROD_ENV.replace(DB_PLACEMENT, `${DB_PLACEMENT}    hosts: [vm-2, db-1]\n`) },
    expect: [`${ENV}:25:19 /spec/placements/2/hosts/1: host "db-1" is not in host group "vms"; its hosts: vm-1, vm-2`],
  },
  {
    name: "two apps on one host with the same port",
    files: { [DB]: DB_SPEC.replace("targetPort: 5432", "targetPort: 8080") },
    expect: [`${ENV}:23:5 /spec/placements/2: port 8080 of app "db" is also used by app "api" on vms/vm-1, vms/vm-2; placed at /spec/placements/1`],
  },
  {
    name: "app port clashing with the mesh outbound port",
    files: { [DB]: DB_SPEC.replace("targetPort: 5432", "targetPort: 15001") },
    expect: [`${ENV}:23:5 /spec/placements/2: port 15001 of app "db" is the mesh outboundPort on vms/vm-1, vms/vm-2; change the app's port or mesh.outboundPort`],
  },
  {
    name: "dependency cycle of two",
    files: { [API]: `${API_SPEC}  dependsOn: [db]\n`, [DB]: `${DB_SPEC}  dependsOn: [api]\n` },
    expect: [`${API}:18:15 /spec/dependsOn/0: dependency cycle: api → db → api; dependsOn must form a DAG`],
  },
  {
    name: "dependency cycle of three",
    files: { [API]: `${API_SPEC}  dependsOn: [db]\n`, [DB]: `${DB_SPEC}  dependsOn: [cache]\n`, "apps/cache/spec.yaml": CACHE },
    expect: [`${API}:18:15 /spec/dependsOn/0: dependency cycle: api → db → cache → api; dependsOn must form a DAG`],
  },
  {
    name: "app depending on itself",
    files: { [API]: `${API_SPEC}  dependsOn: [api]\n` },
    expect: [`${API}:18:15 /spec/dependsOn/0: app "api" depends on itself`],
  },
  {
    name: "dependency on an unknown app",
    files: { [API]: `${API_SPEC}  dependsOn: [db, dbb]\n` },
    expect: [`${API}:18:19 /spec/dependsOn/1: depends on unknown app "dbb"; did you mean "db"?`],
  },
  {
    name: "two folders defining the same app name",
    files: { "apps/db2/spec.yaml": "apiVersion: v1\nkind: Application\nmetadata:\n  name: db\nspec:\n  services: [{name: db2, ports: [{targetPort: 5433, protocol: tcp}]}]\n" },
    expect: [`apps/db2/spec.yaml:4:9 /metadata/name: app "db" is also defined in apps/db/spec.yaml; app names must be unique`],
  },
  {
    name: "two apps defining the same service",
    files: { [DB]: DB_SPEC.replace("- name: db", "- name: api") },
    expect: [`${DB}:5:11 /spec/services/0/name: service "api" is also defined by app "api"; service names are registry and DNS names: unique across all apps`],
  },
  {
    name: "the same host name in two groups",
    files: { [ENV]: PROD_ENV.replace("  placements:", "  - name: more\n    hosts:\n    - name: vm-2\n      address: 10.0.0.3\n  placements:") },
    expect: [`${ENV}:20:13 /spec/hostGroups/1/hosts/0/name: duplicate host name "vm-2"; first at /spec/hostGroups/0/hosts/1/name`],
  },
  {
    name: "the same cluster name twice",
    files: { [ENV]: PROD_ENV.replace("  hostGroups:", "  - name: eu1\n    context: eu1-b\n  hostGroups:") },
    expect: [`${ENV}:11:11 /spec/clusters/1/name: duplicate cluster name "eu1"; first at /spec/clusters/0/name`],
  },
  {
    name: "two environment files with the same name",
    files: { "environments/prod2.yaml": PROD_ENV.replace("kind: Environment\n", "kind: Environment\nmetadata:\n  name: prod\n") },
    expect: [`environments/prod2.yaml:4:9 /metadata/name: environment "prod" is also defined in environments/prod.yaml; environment names must be unique`],
  },
  {
    name: "host placement of an app without a package",
    files: { [DB]: NO_PACKAGE_DB },
    expect: [`${ENV}:23:5 /spec/placements/2: app "db" has no package to run on host group "vms"; add spec.package to apps/db/spec.yaml or a whole package under overrides.package here`],
  },
  {
    name: "cluster placement of an app without a container image",
    files: { [ENV]: PROD_ENV.replace(DB_PLACEMENT, "  - app: db\n    cluster: eu1\n") },
    expect: [`${ENV}:23:5 /spec/placements/2: app "db" has no container image to run on cluster "eu1"; add spec.container to apps/db/spec.yaml or set overrides.image here`],
  },
  {
    name: "package paths leaving the repo and absolute",
    files: { [API]: API_SPEC.replace("path: packages/api.tar.gz", "path: ../secrets/key.tar.gz"), [DB]: DB_SPEC.replace("path: packages/db.tar.gz", "path: /etc/passwd") },
    expect: [
      `${API}:15:11 /spec/package/path: package path "../secrets/key.tar.gz" leaves the repo (".."); packages must be files inside the config repo; use url for files elsewhere`,
      `${DB}:11:11 /spec/package/path: package path "/etc/passwd" is absolute; write it relative to the repo root, e.g. packages/app-1.0.tar.gz; use url for files elsewhere`,
    ],
  },
  {
    name: "health-check port that is not a port of the service",
    files: { [API]: API_SPEC.replace("      path: /health", "      path: /health\n      port: 9090") },
    expect: [`${API}:11:13 /spec/services/0/healthCheck/port: port 9090 is not a port of service "api"; its ports: 8080`],
  },
  {
    name: "one port number used by two services of an app",
    files: { [DB]: DB_SPEC.replace("  package:", "  - name: db-admin\n    ports:\n    - targetPort: 5432\n      protocol: http\n  package:") },
    expect: [`${DB}:11:19 /spec/services/1/ports/0/targetPort: port 5432 is already used by service "db" of this app`],
  },
  {
    name: "the same app placed twice on one cluster and namespace",
    files: { [ENV]: `${PROD_ENV}  - app: api\n    cluster: eu1\n    namespace: default\n` },
    expect: [`${ENV}:25:5 /spec/placements/3: app "api" is placed twice on cluster "eu1", namespace "default"; first placed at /spec/placements/0`],
  },
  {
    name: "mesh inbound port equal to the (default) outbound port",
    files: { [ENV]: PROD_ENV.replace("    serviceIP: 10.255.0.1\n", "    serviceIP: 10.255.0.1\n    inboundPort: 15001\n") },
    expect: [`${ENV}:6:18 /spec/mesh/inboundPort: port 15001 is also the mesh outboundPort; the sidecar and mesh DNS need three different ports`],
  },
  {
    name: "capture on (the default) with a cluster placement and no mesh.controlPlane",
    files: { [ENV]: PROD_ENV.replace('    controlPlane: {address: "amphi-xds.internal:18000"}\n', "") },
    expect: [
      `${ENV}:19:14 /spec/placements/0/cluster: capture is on and apps are placed on clusters, but spec.mesh.controlPlane is not set: the pods' Envoy sidecars would get no configuration and every captured call would fail; set spec.mesh.controlPlane.address (host:port of amphi's xDS listener, reachable from pods), or spec.mesh.capture: false`,
    ],
  },
  {
    name: "relative baseDir for transport ssh",
    files: { [ENV]: PROD_ENV.replace("  - name: vms\n", "  - name: vms\n    baseDir: opt/amphi\n") },
    expect: [`${ENV}:13:14 /spec/hostGroups/0/baseDir: baseDir "opt/amphi" must be an absolute path for transport ssh`],
  },
];

/** Warnings alone do not fail loading: they come back on the model. */
const WARNING_CASES: BadCase[] = [
  {
    name: "package file missing from the repo",
    files: { "packages/db.tar.gz": null },
    expect: [`${DB}:11:11 /spec/package/path: warning: package file "packages/db.tar.gz" does not exist in the config repo`],
  },
  {
    name: "overridden version without a new sha256",
    files: { [ENV]: `${PROD_ENV}    overrides:\n      package:\n        version: 16\n` },
    expect: [`${ENV}:27:18 /spec/placements/2/overrides/package/version: warning: overrides the version but not sha256 of app "db"; a new version is a new archive: set overrides.package.sha256 (and path or url) too`],
  },
  {
    name: "ignore rule naming an unknown app",
    files: { [ENV]: `${PROD_ENV}  ignoreDifferences:\n  - kind: Deployment\n    app: apii\n    jsonPointers: [/spec/replicas]\n` },
    expect: [`${ENV}:27:10 /spec/ignoreDifferences/0/app: warning: ignore rule names unknown app "apii"; did you mean "api"?`],
  },
  {
    name: "two environments on the same hosts with the same baseDir",
    files: { "environments/staging.yaml": PROD_ENV, "environments/dev.yaml": PROD_ENV.replace("address: 10.0.0.2", "address: 10.0.0.2\n      baseDir: /srv/dev") },
    expect: [
      `environments/prod.yaml:14:7 /spec/hostGroups/0/hosts/0: warning: host "vm-1" (10.0.0.1, baseDir /opt/amphi) is also host vms/vm-1 of environment "dev" (environments/dev.yaml); a baseDir belongs to the first environment that deploys there and refuses the other; give each environment its own baseDir (hostGroups[].baseDir)`,
      `environments/staging.yaml:14:7 /spec/hostGroups/0/hosts/0: warning: host "vm-1" (10.0.0.1, baseDir /opt/amphi) is also host vms/vm-1 of environment "dev" (environments/dev.yaml); a baseDir belongs to the first environment that deploys there and refuses the other; give each environment its own baseDir (hostGroups[].baseDir)`,
      `environments/staging.yaml:16:7 /spec/hostGroups/0/hosts/1: warning: host "vm-2" (10.0.0.2, baseDir /opt/amphi) is also host vms/vm-2 of environment "prod" (environments/prod.yaml); a baseDir belongs to the first environment that deploys there and refuses the other; give each environment its own baseDir (hostGroups[].baseDir)`,
    ],
  },
];

for (const c of CASES) {
  test(`bad rule: ${c.name}`, async () => {
    const { error } = await loadChanged(c.files);
    assert.ok(error instanceof ConfigError, "loading must fail");
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

for (const c of WARNING_CASES) {
  test(`warning: ${c.name}`, async () => {
    const { model } = await loadChanged(c.files);
    assert.ok(model, "warnings alone must not fail loading");
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

test("every problem of every file comes in one ConfigError: 3 in one file, 1 in another", async () => {
  const db = DB_SPEC.replace("targetPort: 5432", "targetPort: 0").replace("protocol: tcp", "protocol: udp").replace(/sha256: b+/, "sha256: nope");
  const { error } = await loadChanged({ [DB]: db, [ENV]: PROD_ENV.replace("    cluster: eu1", "    cluster: us1") });
  assert.ok(error);
  assert.deepEqual(error.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.pointer}`), [
    `${DB}:7:19 /spec/services/0/ports/0/targetPort`,
    `${DB}:8:17 /spec/services/0/ports/0/protocol`,
    `${DB}:12:13 /spec/package/sha256`,
    `${ENV}:20:14 /spec/placements/0/cluster`,
  ]);
  assert.match(error.message, /^4 problems in config:\n/);
});

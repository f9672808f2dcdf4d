// Traffic policy (`spec.traffic` of an environment file): normalized with Envoy's defaults, and checked against
// the apps placed in the environment — located problems asserted exactly. Cases append to helpers.ts's files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { loadModel } from "../../src/config/index.js";
import { readSchema } from "../../src/config/schema.js";
import { RETRY_ON, type TrafficPolicy } from "../../src/model/index.js";
import { PROD_ENV, SHA_B, loadChanged, problemsOf, withDir, yaml, type BadCase } from "./helpers.js";

const ENV = "environments/prod.yaml";

/** The base environment with api's VM placement on 1.1.0 (its pods stay on the image tag 1.0.0): a gray release. */
const GRAY_ENV = PROD_ENV.replace(
  "    hostGroup: vms\n  - app: db",
  `    hostGroup: vms\n    overrides:\n      package: {version: 1.1.0, path: packages/api.tar.gz, sha256: ${SHA_B}}\n  - app: db`,
);

/** The base environment with `traffic` appended (line 25 on). */
function withTraffic(traffic: string, env = PROD_ENV): string {
  return `${env}  traffic:\n${traffic.replace(/^/gm, "    ")}`;
}

test("a gray release: split over the versions placements run, defaults filled in, sorted by service and version", async () => {
  const env = withTraffic(
    yaml`
      db:
        circuitBreaker: {maxConnections: 100}
        rateLimit: {requests: 50}
      api:
        split: {1.1.0: 10, 1.0.0: 90}
        timeout: 2s
        retries: {attempts: 2, perTryTimeout: 500ms}
        outlierDetection: {consecutive5xx: 3}
        x-note: free
    `,
    GRAY_ENV,
  );
  const { model, error } = await loadChanged({ [ENV]: env });
  assert.equal(error, null, error?.message);
  assert.deepEqual(model!.warnings, []);
  const expected: TrafficPolicy[] = [
    {
      service: "api",
      split: [{ version: "1.0.0", weight: 90 }, { version: "1.1.0", weight: 10 }],
      timeoutMs: 2000,
      retries: { attempts: 2, perTryTimeoutMs: 500, on: ["5xx", "connect-failure"] },
      circuitBreaker: null,
      outlierDetection: { consecutive5xx: 3, ejectionTimeMs: 30_000, intervalMs: 10_000, maxEjectionPercent: 10 },
      rateLimit: null,
    },
    {
      service: "db",
      split: [],
      timeoutMs: null,
      retries: null,
      circuitBreaker: { maxConnections: 100, maxPendingRequests: null, maxRequests: null },
      outlierDetection: null,
      rateLimit: { requests: 50, intervalMs: 1000, burst: 50 },
    },
  ];
  assert.deepEqual(model!.environments[0]!.traffic, expected);
});

test("an environment without traffic has no policies", async () => {
  const { model } = await loadChanged({});
  assert.deepEqual(model!.environments[0]!.traffic, []);
});

test("versions keep the form they were written in, and numeric parts order as numbers", async () => {
  // `1.0` as a YAML key parses to the number 1; the image tag it must match is the string "1.0".
  const env = withTraffic(
    yaml`
      api:
        split: {1.0: 40, 1.10: 30, 1.9: 30}
    `,
    PROD_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    overrides: {image: reg.example/api:1.0}\n").replace(
      "  - app: db",
      `  - app: api\n    cluster: eu2\n    overrides: {image: reg.example/api:1.10}\n  - app: api\n    cluster: eu3\n    overrides: {image: reg.example/api:1.9}\n  - app: db`,
    ).replace("  hostGroups:", "  - name: eu2\n    context: eu2\n  - name: eu3\n    context: eu3\n  hostGroups:"),
  );
  const { model, error } = await loadChanged({ [ENV]: env });
  assert.equal(error, null, error?.message);
  assert.deepEqual(model!.environments[0]!.traffic[0]!.split, [
    { version: "1.0", weight: 40 },
    { version: "1.9", weight: 30 },
    { version: "1.10", weight: 30 },
  ]);
});

test("the schema documents the normalizer's traffic defaults (Envoy's)", async () => {
  const { TRAFFIC_DEFAULTS } = await import("../../src/config/normalize-traffic.js");
  const text = JSON.stringify(readSchema("Environment"));
  for (const value of [TRAFFIC_DEFAULTS.consecutive5xx, TRAFFIC_DEFAULTS.ejectionTime, TRAFFIC_DEFAULTS.interval, TRAFFIC_DEFAULTS.maxEjectionPercent, TRAFFIC_DEFAULTS.ratePer]) {
    assert.ok(text.includes(`Default: \`${value}\``), `environment schema documents default ${value}`);
  }
  assert.ok(text.includes(`Default: ${TRAFFIC_DEFAULTS.retryOn.map((c) => `\`${c}\``).join(" and ")}.`));
});

test("the schema's retry conditions are the model's", () => {
  const defs = readSchema("Environment").$defs as Record<string, { properties: Record<string, { items: { enum: string[] } }> }>;
  assert.deepEqual(defs.retries!.properties.on!.items.enum, [...RETRY_ON]);
});

const PG_APP = yaml`
  apiVersion: v1
  kind: Application
  spec:
    services:
    - name: pg
      ports:
      - targetPort: 5432
        protocol: tcp
    container:
      image: reg.example/pg:16
`;

const CASES: BadCase[] = [
  {
    name: "weights that do not sum to 100",
    files: { [ENV]: withTraffic("api:\n  split: {1.0.0: 90, 1.1.0: 5}\n", GRAY_ENV) },
    expect: [`${ENV}:29:7 /spec/traffic/api/split: the weights of service "api" sum to 95, not 100 (1.0.0: 90, 1.1.0: 5)`],
  },
  {
    name: "a version no placement runs",
    files: { [ENV]: withTraffic("api:\n  split: {1.0.0: 90, 1.0.1: 10}\n") },
    expect: [`${ENV}:27:26 /spec/traffic/api/split/1.0.1: version "1.0.1" of service "api" runs on no placement of app "api" in this environment; placements of app "api" run 1.0.0 (/spec/placements/0, /spec/placements/1)`],
  },
  {
    name: "a version no placement runs, with the versions that do",
    files: { [ENV]: withTraffic("api:\n  split:\n    1.0.0: 90\n    2.4.0: 10\n", GRAY_ENV) },
    expect: [`${ENV}:31:9 /spec/traffic/api/split/2.4.0: version "2.4.0" of service "api" runs on no placement of app "api" in this environment; placements of app "api" run 1.0.0 (/spec/placements/0), 1.1.0 (/spec/placements/1)`],
  },
  {
    name: "a version whose only placement is scaled to 0 replicas",
    files: { [ENV]: withTraffic("api:\n  split: {1.0.0: 90, 1.1.0: 10}\n", GRAY_ENV.replace("    cluster: eu1\n", "    cluster: eu1\n    replicas: 0\n")) },
    expect: [`${ENV}:30:15 /spec/traffic/api/split/1.0.0: version "1.0.0" of service "api" runs on no placement of app "api" in this environment; placements of app "api" run 1.1.0 (/spec/placements/1); /spec/placements/0 has it at 0 replicas`],
  },
  {
    name: "a policy for an unknown service",
    files: { [ENV]: withTraffic("apii:\n  timeout: 1s\n") },
    expect: [`${ENV}:26:5 /spec/traffic/apii: traffic policy for unknown service "apii"; did you mean "api"?`],
  },
  {
    name: "a policy for a service of an app not placed in the environment",
    files: { [ENV]: withTraffic("pg:\n  timeout: 1s\n"), "apps/pg/spec.yaml": PG_APP },
    expect: [`${ENV}:26:5 /spec/traffic/pg: traffic policy for service "pg" of app "pg", which is not placed in this environment; services placed here: api, db`],
  },
  {
    name: "a per-try timeout longer than the timeout (a warning)",
    files: { [ENV]: withTraffic("api:\n  timeout: 1s\n  retries: {attempts: 2, perTryTimeout: 2s}\n") },
    expect: [`${ENV}:28:45 /spec/traffic/api/retries/perTryTimeout: warning: the per-try timeout of service "api" is longer than its timeout; the timeout bounds all tries together and cuts this one short: lower perTryTimeout or raise timeout`],
  },
  {
    name: "a rate limit refilled faster than Envoy can",
    files: { [ENV]: withTraffic("db:\n  rateLimit: {requests: 1, per: 10ms}\n") },
    expect: [`${ENV}:27:37 /spec/traffic/db/rateLimit/per: the rate limit interval must be at least 50ms; Envoy refills a token bucket at most every 50ms`],
  },
  {
    name: "schema: zero and malformed durations, weights out of range, an empty split, a misspelt key, no attempts",
    files: {
      [ENV]: withTraffic("api:\n  timeout: 0s\n  split: {}\n  retires: {attempts: 1}\ndb:\n  split: {15: 120}\n  retries: {on: [5xxx]}\n  outlierDetection: {interval: 10}\n"),
    },
    expect: [
      `${ENV}:27:16 /spec/traffic/api/timeout: "0s" must be longer than zero; write a whole number above zero and a unit: 500ms, 2s, 1m`,
      `${ENV}:28:14 /spec/traffic/api/split: must not be empty`,
      `${ENV}:29:7 /spec/traffic/api/retires: unknown key "retires"; did you mean "retries"?`,
      `${ENV}:31:19 /spec/traffic/db/split/15: must be between 0 and 100, not 120`,
      `${ENV}:32:7 /spec/traffic/db/retries: missing required key "attempts"`,
      `${ENV}:32:22 /spec/traffic/db/retries/on/0: must be one of ${RETRY_ON.join(", ")}; did you mean "5xx"?`,
      `${ENV}:33:36 /spec/traffic/db/outlierDetection/interval: must be a string, not 10; quote it: "10"`,
    ],
  },
  {
    name: "two tcp services on one port in an environment",
    files: { "apps/pg/spec.yaml": PG_APP, [ENV]: `${PROD_ENV}  - app: pg\n    cluster: eu1\n` },
    expect: [`${ENV}:25:5 /spec/placements/3: tcp port 5432 of service "pg" (app "pg") is also the tcp port of service "db" (app "db"); every service shares the mesh IP 10.255.0.1, so tcp services are told apart by port alone: give one of them another targetPort`],
  },
  {
    name: "a tcp service on the port of an http service",
    files: { "apps/pg/spec.yaml": PG_APP.replace("targetPort: 5432", "targetPort: 8080"), [ENV]: `${PROD_ENV}  - app: pg\n    cluster: eu1\n` },
    expect: [`${ENV}:25:5 /spec/placements/3: tcp port 8080 of service "pg" (app "pg") is also the http port of service "api" (app "api"); every service shares the mesh IP 10.255.0.1, so tcp services are told apart by port alone: give one of them another targetPort`],
  },
];

for (const c of CASES) {
  test(`traffic: ${c.name}`, async () => {
    assert.deepEqual(await problemsOf(c.files), c.expect);
  });
}

test("a tcp port shared with an app placed in another environment only is no clash", async () => {
  const staging = PROD_ENV.replace("  - app: db\n    hostGroup: vms\n", "  - app: pg\n    cluster: eu1\n").replace("  - name: vms\n", "  - name: vms\n    baseDir: /opt/staging\n");
  assert.deepEqual(await problemsOf({ "apps/pg/spec.yaml": PG_APP, "environments/staging.yaml": staging }), []);
});


test("the README's gray-release example loads with the example apps, billing split over 2.3.0 and 2.4.0", async () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const block = /```yaml\nspec:\n(  hostGroups:[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, "README has the gray-release example");
  const env = `apiVersion: v1\nkind: Environment\nspec:\n  mesh:\n    serviceIP: 10.255.0.1\n    sidecar: {image: envoy:1, binary: /usr/local/bin/envoy}\n    controlPlane: {address: "amphi-xds:18000"}\n${block.replace("9c0d…", "9c0d".padEnd(64, "0"))}`;
  const example = (path: string) => readFileSync(new URL(`../../examples/config/${path}`, import.meta.url), "utf8");
  const files = {
    "apps/billing/spec.yaml": example("apps/billing/spec.yaml"),
    "apps/user/spec.yaml": example("apps/user/spec.yaml"),
    "environments/gray.yaml": env,
    "packages/billing-2.3.0.tar.gz": "not really a tarball",
    "packages/billing-2.4.0.tar.gz": "not really a tarball",
  };
  const model = await withDir(files, (dir) => loadModel(new DirSource(dir)));
  assert.deepEqual(model.warnings, []);
  const [billing] = model.environments[0]!.traffic;
  assert.equal(billing?.service, "billing");
  assert.deepEqual(billing?.split, [{ version: "2.3.0", weight: 90 }, { version: "2.4.0", weight: 10 }]);
});

test("the example prod environment's policies load with their defaults", async () => {
  const model = await loadModel(new DirSource(new URL("../../examples/config", import.meta.url).pathname));
  const prod = model.environments.find((e) => e.name === "prod")!;
  assert.deepEqual(prod.traffic.map((t) => t.service), ["billing", "user"]);
  assert.deepEqual(prod.traffic[0]!.retries, { attempts: 2, perTryTimeoutMs: 500, on: ["5xx", "connect-failure"] });
  assert.deepEqual(prod.traffic[1]!.rateLimit, { requests: 500, intervalMs: 1000, burst: 1000 });
});

test("a placement with an error of its own is reported once: its app is placed, its version unknown", async () => {
  const env = withTraffic("api:\n  split: {1.0.0: 50, 2.0.0: 50}\n", PROD_ENV.replace("    cluster: eu1\n  - app: api", "    cluster: eu9\n  - app: api"));
  assert.deepEqual(await problemsOf({ [ENV]: env }), [`${ENV}:20:14 /spec/placements/0/cluster: unknown cluster "eu9"; did you mean "eu1"?`]);
});

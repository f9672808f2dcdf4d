// A small but complete Model built by hand (no loader involved), for tests of the stages after loading.
// Env "prod": cluster eu1 (namespace shop), host group legacy with vm-1 and vm-2, capture on.
//   user    → eu1 (3 replicas, image pinned by the placement)
//   catalog → eu1 (2 replicas) and legacy vm-1, vm-2 (http 8080 + grpc 9090)
//   billing → legacy (all hosts)            web → eu1 (secret env)
// So vm-1 and vm-2 each run catalog and billing: two apps on one host.
import { createHash } from "node:crypto";
import type {
  AppModel,
  ContainerModel,
  EnvironmentModel,
  EnvVarModel,
  Model,
  PackageModel,
  ServiceModel,
} from "../../src/model/index.js";

function specHash(app: string): string {
  return createHash("sha256").update(`spec:${app}`).digest("hex");
}

function httpService(name: string, port: number, path: string | null): ServiceModel {
  return {
    name,
    ports: [{ name: `http-${port}`, targetPort: port, protocol: "http" }],
    healthCheck: path === null ? null : { path, port, intervalSeconds: 10, timeoutSeconds: 2 },
  };
}

function container(image: string, replicas: number, env: EnvVarModel[] = []): ContainerModel {
  return { image, replicas, command: null, args: null, env, resources: null };
}

function pkg(app: string, version: string, start: string, env: EnvVarModel[] = []): PackageModel {
  return {
    version,
    source: { path: `packages/${app}-${version}.tar.gz` },
    sha256: createHash("sha256").update(`pkg:${app}:${version}`).digest("hex"),
    start,
    user: null,
    env,
  };
}

/** The apps of the fixture, sorted by name. */
export function fixtureApps(): AppModel[] {
  const app = (name: string, rest: Omit<AppModel, "name" | "file" | "specHash">): AppModel => ({
    name,
    file: `apps/${name}/spec.yaml`,
    specHash: specHash(name),
    ...rest,
  });
  const catalogContainer: ContainerModel = {
    ...container("registry.example.com/shop/catalog:1.8.1", 2, [{ name: "LOG_LEVEL", value: "info", secret: false }]),
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
  };
  return [
    app("billing", {
      services: [httpService("billing", 9100, "/health")],
      container: null,
      package: pkg("billing", "2.3.0", "node server.mjs 9100 billing", [
        { name: "APP_VERSION", value: "2.3.0", secret: false },
        { name: "DB_PASSWORD", value: "hunter2", secret: true },
      ]),
      dependsOn: ["user"],
    }),
    app("catalog", {
      services: [
        {
          name: "catalog",
          ports: [
            { name: "http", targetPort: 8080, protocol: "http" },
            { name: "grpc", targetPort: 9090, protocol: "grpc" },
          ],
          healthCheck: { path: "/healthz", port: 8080, intervalSeconds: 5, timeoutSeconds: 1 },
        },
      ],
      container: catalogContainer,
      package: pkg("catalog", "1.8.1", "node server.mjs 8080 catalog"),
      dependsOn: [],
    }),
    app("user", {
      services: [httpService("user", 8091, "/health")],
      container: container("registry.example.com/shop/user:1.4.0", 1),
      package: null,
      dependsOn: [],
    }),
    app("web", {
      services: [httpService("web", 3000, "/ready")],
      container: {
        ...container("registry.example.com/shop/web:4.2.0", 1, [
          { name: "CATALOG_URL", value: "http://catalog.mesh:8080", secret: false },
          { name: "SESSION_KEY", value: "dev-only-not-a-real-key", secret: true },
        ]),
        command: ["node", "dist/server.js"],
      },
      package: null,
      dependsOn: ["catalog", "user"],
    }),
  ];
}

/** The "prod" environment of the fixture; placements carry the apps' containers/packages with overrides applied. */
export function fixtureEnvironment(apps: AppModel[] = fixtureApps()): EnvironmentModel {
  const byName = (name: string) => apps.find((a) => a.name === name)!;
  const containerOf = (name: string, replicas: number, image?: string) => {
    const c = byName(name).container!;
    return { ...c, replicas, image: image ?? c.image };
  };
  return {
    name: "prod",
    file: "environments/prod.yaml",
    mesh: {
      capture: true,
      serviceIP: "10.255.0.1",
      proxyUid: 1337,
      outboundPort: 15001,
      inboundPort: 15006,
      dnsPort: 15053,
      domain: "mesh",
      dnsUpstreams: ["10.0.0.2"],
      sidecar: { image: "envoyproxy/envoy:v1.31.2", initImage: "registry.example.com/amphi/init:0.1.0", package: null, binary: null },
      controlPlane: null,
    },
    consul: { enabled: true, address: "http://consul.internal:8500", datacenter: null, tokenEnv: null, checkTTL: "15s", deregisterCriticalAfter: "5m" },
    clusters: [{ name: "eu1", context: "prod-eu1", namespace: "shop", forceConflicts: true }],
    hostGroups: [
      {
        name: "legacy",
        transport: "ssh",
        ssh: { user: "deploy", port: 22, identityFile: null, knownHostsFile: null, proxyJump: null },
        baseDir: "/opt/amphi",
        maxUnavailable: 1,
        maxUnpackedSize: 4 * 1024 ** 3,
        hosts: [
          { name: "vm-1", address: "10.20.0.11", baseDir: "/opt/amphi" },
          { name: "vm-2", address: "10.20.0.12", baseDir: "/opt/amphi" },
        ],
      },
    ],
    placements: [
      { type: "cluster", app: "user", cluster: "eu1", namespace: "shop", container: containerOf("user", 3, "registry.example.com/shop/user:1.4.2"), index: 0 },
      { type: "cluster", app: "catalog", cluster: "eu1", namespace: "shop", container: containerOf("catalog", 2), index: 1 },
      { type: "hostGroup", app: "catalog", hostGroup: "legacy", hosts: ["vm-1", "vm-2"], package: byName("catalog").package!, index: 2 },
      { type: "hostGroup", app: "billing", hostGroup: "legacy", hosts: ["vm-1", "vm-2"], package: byName("billing").package!, index: 3 },
      { type: "cluster", app: "web", cluster: "eu1", namespace: "shop", container: containerOf("web", 2), index: 4 },
    ],
    ignoreDifferences: [],
    traffic: [],
    status: { provider: "none", url: null, repository: null, tokenEnv: null, reportUrl: null },
    state: { backend: "file", path: ".amphi" },
  };
}

/** The whole fixture model: the apps above and one environment, "prod". A fresh copy on every call. */
export function modelFixture(): Model {
  const apps = fixtureApps();
  return { source: "test/fixture", revision: null, apps, environments: [fixtureEnvironment(apps)] };
}

/** A copy of `model` with the environment `envName` (default "prod") replaced by `change(copy of it)`. */
export function withEnvironment(model: Model, change: (env: EnvironmentModel) => EnvironmentModel, envName = "prod"): Model {
  const copy = structuredClone(model);
  return { ...copy, environments: copy.environments.map((e) => (e.name === envName ? change(e) : e)) };
}

/** A copy of `model` with mesh capture switched on or off in environment "prod". */
export function withCapture(model: Model, capture: boolean): Model {
  return withEnvironment(model, (env) => ({ ...env, mesh: { ...env.mesh, capture } }));
}

/** A copy of `model` with app `name` replaced by `change(copy of it)`. */
export function withApp(model: Model, name: string, change: (app: AppModel) => AppModel): Model {
  const copy = structuredClone(model);
  return { ...copy, apps: copy.apps.map((a) => (a.name === name ? change(a) : a)) };
}

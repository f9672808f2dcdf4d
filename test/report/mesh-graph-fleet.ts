// A generated fleet for the mesh graph's tests and bench: N apps in one environment "prod", in systems of ten
// (a front end and services each calling some of the system's earlier apps, a store first), every third app
// on hosts, the others in pods, one in twenty also calling one of a few shared platform apps, every seventh
// with a traffic split. Pseudo-random from a seed: the same
// arguments give the same model.
import type { AppModel, EnvironmentModel, Model, Placement, TrafficPolicy } from "../../src/model/index.js";
import { fixtureEnvironment } from "../support/model-fixture.js";

/** Options of {@link meshFleet}. */
export interface MeshFleetOptions {
  /** Share (0–1) of the apps that call a shared platform app (default 0.05). */
  platformShare?: number;
  seed?: number;
}

/** The fleet's model. App names are `s<system>-<role><i>` (`s012-api3`) and `platform-<k>`. */
export function meshFleet(apps: number, opts: MeshFleetOptions = {}): Model {
  let state = opts.seed ?? 7;
  const rand = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const platform = Array.from({ length: Math.max(1, Math.round(apps / 100)) }, (_, k) => `platform-${String(k).padStart(2, "0")}`);
  const names = [...platform];
  const list: AppModel[] = platform.map((name, k) => app(name, 7000 + k, []));
  for (let i = 0; names.length < apps; i++) {
    const system = `s${String(Math.floor(i / 10)).padStart(3, "0")}`;
    const role = i % 10 === 0 ? "store" : i % 10 === 9 ? "web" : "api";
    const name = `${system}-${role}${i % 10}`;
    const siblings = names.filter((n) => n.startsWith(`${system}-`));
    const deps = new Set<string>();
    for (const s of siblings) if (rand() < 0.3) deps.add(s);
    if (rand() < (opts.platformShare ?? 0.05)) deps.add(platform[Math.floor(rand() * platform.length)]!);
    // Later apps of a system call earlier ones only (the store first, the front end last), so no cycle.
    list.push(app(name, 8000 + i, [...deps].sort()));
    names.push(name);
  }
  const env: EnvironmentModel = { ...fixtureEnvironment(), placements: list.map((a, i) => placement(a, i)), traffic: list.filter((_, i) => i % 7 === 3).map(policy) };
  return { source: "test/mesh-graph-fleet", revision: null, apps: list.sort((a, b) => (a.name < b.name ? -1 : 1)), environments: [env] };
}

function app(name: string, port: number, dependsOn: string[]): AppModel {
  return {
    name,
    file: `apps/${name}/spec.yaml`,
    specHash: "0".repeat(64),
    services: [{ name, ports: [{ name: `http-${port}`, targetPort: port, protocol: "http" }], healthCheck: null }],
    container: { image: `registry.example.com/${name}:1.0.0`, replicas: 2, command: null, args: null, env: [], resources: null },
    package: { version: "1.0.0", source: { path: `packages/${name}.tar.gz` }, sha256: "0".repeat(64), start: "./run", user: null, env: [] },
    dependsOn,
  };
}

// Every third app runs on the hosts, the others in pods.
function placement(a: AppModel, i: number): Placement {
  return i % 3 === 0
    ? { type: "hostGroup", app: a.name, hostGroup: "legacy", hosts: ["vm-1", "vm-2"], package: a.package!, index: i }
    : { type: "cluster", app: a.name, cluster: "eu1", namespace: "shop", container: a.container!, index: i };
}

function policy(a: AppModel): TrafficPolicy {
  return {
    service: a.name,
    split: [{ version: "v1", weight: 90 }, { version: "v2", weight: 10 }],
    timeoutMs: 2000,
    retries: { attempts: 2, perTryTimeoutMs: 500, on: ["5xx"] },
    circuitBreaker: null,
    outlierDetection: null,
    rateLimit: null,
  };
}

// A seeded generator of valid config repos, for property tests: same seed, same repo.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dump } from "js-yaml";

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = ReturnType<typeof prng>;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, 0, xs.length - 1)]!;
const SHA = (i: number): string => i.toString(16).padStart(64, "a");

interface GenApp { name: string; container: boolean; pkg: boolean }

/** Writes a random but valid repo under `dir` (apps/, environments/); returns the app names. */
export function writeRandomRepo(dir: string, seed: number): string[] {
  const r = prng(seed);
  let nextPort = 8000;
  const apps: GenApp[] = [];
  const count = int(r, 1, 7);
  for (let i = 0; i < count; i++) {
    const name = `app${i}-${pick(r, ["api", "db", "web", "worker"])}`;
    const kind = int(r, 0, 2); // 0 container, 1 package, 2 both
    const app: GenApp = { name, container: kind !== 1, pkg: kind !== 0 };
    const services = Array.from({ length: int(r, 1, 2) }, (_, s) => ({
      name: `${name}-s${s}`,
      ports: Array.from({ length: int(r, 1, 2) }, () => ({ targetPort: nextPort++, protocol: pick(r, ["http", "grpc", "tcp"] as const) })),
      ...(r() < 0.7 ? { healthCheck: { path: `/h${s}` } } : {}),
    }));
    const deps = apps.filter(() => r() < 0.3).map((a) => a.name);
    const spec: Record<string, unknown> = { services };
    if (app.container) spec.container = { image: `reg.example/${name}:${int(r, 1, 9)}.0`, replicas: int(r, 1, 3), env: envVars(r) };
    if (app.pkg) spec.package = { version: `${int(r, 1, 9)}.${int(r, 0, 9)}.0`, url: `https://a.example/${name}.tgz`, sha256: SHA(i + 1), start: `./run --name ${name}`, env: envVars(r) };
    if (deps.length) spec.dependsOn = deps;
    mkdirSync(join(dir, "apps", name), { recursive: true });
    writeFileSync(join(dir, "apps", name, "spec.yaml"), dump({ apiVersion: "v1", kind: "Application", spec }));
    apps.push(app);
  }
  mkdirSync(join(dir, "environments"), { recursive: true });
  for (const env of ["alpha", "beta"].slice(0, int(r, 1, 2))) writeFileSync(join(dir, "environments", `${env}.yaml`), dump(environment(r, apps)));
  return apps.map((a) => a.name);
}

function envVars(r: Rand): { name: string; value: string; secret?: boolean }[] {
  return Array.from({ length: int(r, 0, 2) }, (_, i) => ({ name: `VAR_${i}`, value: `v${int(r, 0, 99)}`, ...(r() < 0.3 ? { secret: true } : {}) }));
}

function environment(r: Rand, apps: GenApp[]): unknown {
  const clusters = Array.from({ length: int(r, 1, 2) }, (_, i) => ({ name: `c${i}`, context: `ctx-${i}`, namespace: pick(r, ["apps", "shop"]) }));
  const groups = Array.from({ length: int(r, 1, 2) }, (_, g) => ({
    name: `g${g}`,
    transport: "ssh",
    hosts: Array.from({ length: int(r, 1, 3) }, (_, h) => ({ name: `g${g}-vm${h}`, address: `10.9.${g}.${h + 10}` })),
  }));
  const placements: unknown[] = [];
  for (const app of apps) {
    if (app.container) placements.push({ app: app.name, cluster: pick(r, clusters).name, ...(r() < 0.5 ? { replicas: int(r, 1, 4) } : {}) });
    if (app.pkg) {
      const g = pick(r, groups);
      placements.push({ app: app.name, hostGroup: g.name, ...(r() < 0.5 ? { hosts: [g.hosts[0]!.name] } : {}) });
    }
  }
  const capture = r() < 0.6;
  // Capture with pods needs the control plane their sidecars get their configuration from.
  const controlPlane = capture ? { controlPlane: { address: "amphi-xds.internal:18000" } } : {};
  return {
    apiVersion: "v1",
    kind: "Environment",
    spec: { mesh: { serviceIP: "10.255.0.1", capture, sidecar: { image: "envoyproxy/envoy:v1.31.2", binary: "/usr/local/bin/envoy" }, ...controlPlane }, clusters, hostGroups: groups, placements },
  };
}

// One prod environment with a bit of everything, for the plan tests and the golden files:
//   deps: user ← catalog, user ← billing, catalog ← web  (waves: user 1, catalog 2, billing 2, web 3)
//   user     eu1 Deployment image 1.4.1 → 1.4.2 (update), Service unchanged
//   catalog  eu1 Deployment: LOG_LEVEL debug → info and the secret DB_PASSWORD changed; on vm-1 stopped
//   billing  vm-2: 2.3.0 → 2.4.0 (version, package, sha256, env), its registration's meta and tags,
//            vm-2's capture rules gain a port; billing on vm-3 cannot be read (host unreachable)
//   web      eu1 Deployment + Service created
//   report   removed from the config: its Deployment, vm-1 instance and registration are deleted
import { diff } from "../../src/diff/index.js";
import type { ActualResource, DiffResult, Resource } from "../../src/model/index.js";
import {
  actualState,
  capture,
  clone,
  deployment,
  desiredState,
  hostInstance,
  live,
  OLD_SECRET_VALUE,
  registration,
  SECRET_VALUE,
  service,
  SHA_B,
} from "../support/resources-fixture.js";

/** The apps' dependsOn, as the CLI passes it to buildPlan. */
export const DEPS: Record<string, string[]> = { user: [], catalog: ["user"], billing: ["user"], web: ["catalog"] };
export const REVISION = "3f1a9c0d2b7e4f6a8c1d3e5f7a9b0c2d4e6f8a1b";

const catalog = (level: string, password: string) =>
  deployment({ app: "catalog", env: [{ name: "LOG_LEVEL", value: level }, { name: "DB_PASSWORD", value: password }], secretEnv: ["DB_PASSWORD"] });

/** Desired resources of the scenario. */
export function desiredResources(): Resource[] {
  return [
    deployment({ app: "user", image: "registry.example.com/shop/user:1.4.2" }),
    service("user"),
    catalog("info", SECRET_VALUE),
    hostInstance({ app: "catalog", host: "vm-1" }),
    capture("vm-1", [{ app: "catalog", ports: [9100] }]),
    hostInstance({ app: "billing", version: "2.4.0", sha256: SHA_B }),
    registration("billing", "vm-2", "2.4.0"),
    capture("vm-2", [{ app: "billing", ports: [9100, 9101] }]),
    hostInstance({ app: "billing", host: "vm-3", version: "2.4.0", sha256: SHA_B }),
    deployment({ app: "web", image: "registry.example.com/shop/web:4.2.0" }),
    service("web"),
  ];
}

/** Actual resources of the scenario. */
export function actualResources(): ActualResource[] {
  return [
    live(deployment({ app: "user", image: "registry.example.com/shop/user:1.4.1" })),
    live(service("user")),
    live(catalog("debug", OLD_SECRET_VALUE)),
    { ...hostInstance({ app: "catalog", host: "vm-1" }), observed: { process: "stopped" } },
    capture("vm-1", [{ app: "catalog", ports: [9100] }]),
    { ...hostInstance({ app: "billing" }), observed: { process: "running" } },
    { ...registration("billing", "vm-2", "2.3.0"), observed: { check: "passing" } },
    capture("vm-2", [{ app: "billing", ports: [9100] }]),
    live(deployment({ app: "report" })),
    hostInstance({ app: "report", host: "vm-1" }),
    registration("report", "vm-1"),
  ];
}

/** The scenario's diff; `order` may permute the inputs (determinism tests). */
export function scenarioDiff(order: <T>(items: T[]) => T[] = (x) => x): DiffResult {
  const down = [{ runtime: "vm" as const, target: "legacy/vm-3", reason: "ssh 10.20.0.13:22: connect timed out after 10s" }];
  return diff(desiredState(order(desiredResources())), actualState(order(actualResources()), down), { ignore: [] });
}

/** The same environment with nothing to do. */
export function upToDateDiff(): DiffResult {
  const desired = [deployment({ app: "user" }), service("user"), hostInstance({ app: "billing" })];
  return diff(desiredState(desired), actualState(desired.map(clone)), { ignore: [] });
}

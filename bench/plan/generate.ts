// Generates a synthetic config repo: N apps, each with a container and a package, placed in two
// environments on a cluster and on a host group (every app on every host, each app on its own port). Values are
// written as people write them: unquoted numbers (ports, replicas, an env value, a version such as `2.0` kept as
// written) and booleans beside strings.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SHA = "0".repeat(63) + "1";

/** The shape: `envs` environment files (default prod and staging), with or without a Consul address. The
 * issue 14 checker's shape is `{ envs: ["prod"], consul: false }` (`fleet` below). */
export interface Shape {
  envs: string[];
  consul: boolean;
}

/** bench/plan's own repo: two environments, Consul. */
export const BENCH: Shape = { envs: ["prod", "staging"], consul: true };
/** The shape issue 14's checker describes: one environment, no Consul. */
export const FLEET: Shape = { envs: ["prod"], consul: false };

/** Writes the repo under `dir` and returns it. Every 10th app depends on the one before. */
export function generateRepo(dir: string, apps: number, hosts = 4, shape: Shape = BENCH): string {
  for (let i = 0; i < apps; i++) {
    const name = `app-${String(i).padStart(4, "0")}`;
    mkdirSync(join(dir, "apps", name), { recursive: true });
    writeFileSync(join(dir, "apps", name, "spec.yaml"), appSpec(name, i));
  }
  mkdirSync(join(dir, "environments"), { recursive: true });
  for (const env of shape.envs) writeFileSync(join(dir, "environments", `${env}.yaml`), envSpec(env, apps, hosts, shape.consul));
  return dir;
}

function appSpec(name: string, i: number): string {
  const dep = i % 10 === 9 ? `  dependsOn: [app-${String(i - 1).padStart(4, "0")}]\n` : "";
  return `apiVersion: v1
kind: Application
spec:
  services:
  - name: ${name}
    ports:
    - targetPort: ${20000 + i}
      protocol: http
    healthCheck:
      path: /health
  container:
    image: registry.example.com/bench/${name}:1.0.${i}
    replicas: 2
    env:
    - name: INDEX
      value: "${i}"
    - name: PORT
      value: ${20000 + i}
      secret: false
  package:
    version: ${i % 4 === 0 ? `2.${i % 10}` : `1.0.${i}`}
    url: https://artifacts.example.com/${name}-1.0.${i}.tar.gz
    sha256: "${SHA}"
    start: ./bin/${name} --port ${20000 + i}
${dep}`;
}

function envSpec(env: string, apps: number, hosts: number, consul: boolean): string {
  const hostList = Array.from({ length: hosts }, (_, h) => `    - name: vm-${h}\n      address: 10.30.0.${h + 10}\n`).join("");
  const placements = Array.from({ length: apps }, (_, i) => {
    const name = `app-${String(i).padStart(4, "0")}`;
    return `  - app: ${name}\n    cluster: c1\n  - app: ${name}\n    hostGroup: vms\n`;
  }).join("");
  return `apiVersion: v1
kind: Environment
spec:
  mesh:
    serviceIP: 10.255.0.1
    capture: false
    sidecar:
      image: envoyproxy/envoy:v1.31.2
${consul ? "  consul:\n    address: http://127.0.0.1:8500\n" : ""}  clusters:
  - name: c1
    context: ${env}-c1
    namespace: bench
  hostGroups:
  - name: vms
    transport: ssh
    hosts:
${hostList}  placements:
${placements}`;
}

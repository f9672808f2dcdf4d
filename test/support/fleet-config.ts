// Config files for tests and benches that deploy the example `billing` package to a netns fleet: the app
// spec and a `fleet` environment, written once here instead of in every suite.
import type { TestFleet } from "./netns-hosts.js";

/** Options of {@link billingSpec}. */
export interface BillingOptions {
  port: number;
  /** `version` of the package (default `2.3.0`). */
  version?: string;
  /** Repo-relative archive path and its sha256. */
  path: string;
  sha256: string;
  /** Env vars of the process, in order. */
  env?: Record<string, string>;
}

/** `apps/billing/spec.yaml` for the example server package. */
export function billingSpec(o: BillingOptions): string {
  const env = Object.entries(o.env ?? {});
  const envYaml = env.length === 0 ? "" : `    env:\n${env.map(([k, v]) => `    - name: ${k}\n      value: ${JSON.stringify(v)}\n`).join("")}`;
  return `apiVersion: v1
kind: Application
spec:
  services:
  - name: billing
    ports:
    - targetPort: ${o.port}
      protocol: http
    healthCheck:
      path: /health
  package:
    version: ${JSON.stringify(o.version ?? "2.3.0")}
    path: ${o.path}
    sha256: ${o.sha256}
    start: node server.mjs ${o.port} billing
${envYaml}`;
}

/** Options of {@link fleetEnvironment}. */
export interface FleetEnvOptions {
  /** SSH login (default `root`). */
  user?: string;
  knownHostsFile?: string;
  /** Capture on (default false: with capture on, hosts need a VM sidecar and a control plane, see `mesh`). */
  capture?: boolean;
  /** Extra `mesh:` entries, flow style (e.g. `controlPlane: {address: "10.0.0.1:18000"}, ` …). */
  mesh?: string;
  /** `mesh.sidecar.binary`: the hosts' Envoy. */
  sidecarBinary?: string;
  maxUnavailable?: number;
  /** Place billing on the fleet (default true); false leaves `placements: []`. */
  placed?: boolean;
  /** Extra `spec:` lines, indented two spaces (e.g. `  consul: {…}\n`). */
  extra?: string;
}

/** `environments/fleet.yaml`: one ssh host group of the fleet's hosts, each with its own baseDir. */
export function fleetEnvironment(fleet: TestFleet, o: FleetEnvOptions = {}): string {
  const hosts = fleet.hosts.map((h) => `    - { name: ${h.name}, address: ${h.address}, baseDir: ${h.baseDir} }`).join("\n");
  return `apiVersion: v1
kind: Environment
spec:
  mesh: { serviceIP: 10.255.0.1, capture: ${o.capture ?? false}, ${o.mesh ?? ""}sidecar: { image: envoyproxy/envoy:v1.31.2${o.sidecarBinary ? `, binary: ${o.sidecarBinary}` : ""} } }
${o.extra ?? ""}  hostGroups:
  - name: fleet
    transport: ssh
    ssh: { user: ${o.user ?? "root"}, identityFile: ${fleet.privateKeyPath}, knownHostsFile: ${o.knownHostsFile ?? fleet.knownHostsPath} }
    maxUnavailable: ${o.maxUnavailable ?? 1}
    hosts:
${hosts}
  placements:${o.placed === false ? " []" : "\n  - { app: billing, hostGroup: fleet }"}
`;
}

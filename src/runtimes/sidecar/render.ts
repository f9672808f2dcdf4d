// The VM sidecar (issue 12): one Envoy per host that runs mesh apps. With a VM sidecar configured
// (`mesh.sidecar.package` or `.binary`) and a control plane (`mesh.controlPlane`), every host with at least one
// app instance gets one, whether or not capture is on: without capture the apps may still send to it. Its
// bootstrap is the one every amphi sidecar starts from (src/mesh/bootstrap.ts), with a node id naming the host.
import type { EnvironmentModel, HostInstance } from "../../model/index.js";
import { hostSidecarNodeId, shortDigest } from "../../model/index.js";
import { envoyBootstrapYaml } from "../../mesh/bootstrap.js";
import type { RenderHook } from "../types.js";
import type { VmSidecar, VmSidecarSource } from "./resource.js";

/** Envoy's admin port on the hosts (127.0.0.1 only), as Istio's sidecars have it. */
export const SIDECAR_ADMIN_PORT = 15000;
/** Seconds an upgrade lets listeners drain before Envoy restarts. */
export const SIDECAR_DRAIN_SECONDS = 5;

/** The key of a host's sidecar resource. */
export function sidecarKey(hostGroup: string, host: string): string {
  return `sidecar/${hostGroup}/${host}`;
}

/** Where a VM host's Envoy comes from, or null when the environment has none (or no control plane). */
export function vmSidecarSource(env: EnvironmentModel): VmSidecarSource | null {
  const s = env.mesh.sidecar;
  if (env.mesh.controlPlane === null) return null;
  if (s.package) return { package: s.package.source, version: s.package.version, sha256: s.package.sha256.toLowerCase(), exe: s.package.start };
  if (s.binary) return { binary: s.binary };
  return null;
}

/** The sidecar render hook: one resource per host with at least one instance. */
export const renderSidecar: RenderHook<"sidecar"> = ({ env, hosts }) => {
  const source = vmSidecarSource(env);
  if (source === null) return [];
  return hosts.flatMap(({ target, hostGroup, host, instances }) => {
    const first = instances[0]?.instance;
    if (!first) return [];
    return [{ runtime: "sidecar" as const, key: sidecarKey(hostGroup, host), app: null, target, sidecar: hostSidecar(env, source, first) }];
  });
};

/** The sidecar of the host `instance` runs on. */
export function hostSidecar(env: EnvironmentModel, source: VmSidecarSource, instance: Pick<HostInstance, "hostGroup" | "host" | "address" | "baseDir">): VmSidecar {
  const m = env.mesh;
  const nodeId = hostSidecarNodeId({ env: env.name, hostGroup: instance.hostGroup, host: instance.host });
  const bootstrap = envoyBootstrapYaml({
    nodeId,
    nodeCluster: instance.hostGroup,
    metadata: { runtime: "vm", env: env.name, hostGroup: instance.hostGroup, host: instance.host },
    controlPlane: m.controlPlane!,
    adminPort: SIDECAR_ADMIN_PORT,
  });
  return {
    hostGroup: instance.hostGroup,
    host: instance.host,
    address: instance.address,
    baseDir: instance.baseDir,
    source,
    nodeId,
    user: m.proxyUid,
    adminPort: SIDECAR_ADMIN_PORT,
    inboundPort: m.inboundPort,
    outboundPort: m.outboundPort,
    drainSeconds: SIDECAR_DRAIN_SECONDS,
    bootstrap,
    bootstrapDigest: bootstrapDigest(bootstrap),
  };
}

/** The first 16 hex digits of the bootstrap's sha256 (what plans show of it). */
export function bootstrapDigest(bootstrap: string): string {
  return shortDigest(bootstrap);
}

/** What a plan shows of a source: the package's version (or the binary's path). */
export function sidecarVersion(source: VmSidecarSource): string {
  return "binary" in source ? source.binary : source.version;
}

// A validated environment file → EnvironmentModel with every default applied (placements are
// resolved separately, in placements.ts, because they need the apps).
import type {
  ClusterModel,
  ConsulModel,
  EnvironmentModel,
  HostGroupModel,
  IgnoreRule,
  MeshModel,
  StateModel,
  StatusModel,
} from "../model/index.js";
import { normalizePackage } from "./normalize-app.js";
import { normalizeTraffic } from "./normalize-traffic.js";
import type { FileLocator } from "./problems.js";
import type { RawEnvironment, RawHostGroup } from "./raw.js";

/** Defaults of an environment, as documented in schemas/environment.schema.json. */
export const ENV_DEFAULTS = {
  capture: true,
  proxyUid: 1337,
  outboundPort: 15001,
  inboundPort: 15006,
  dnsPort: 15053,
  domain: "mesh",
  // kube-proxy's base image (kubernetes/release images/build/distroless-iptables; this tag is the one
  // kubernetes/kubernetes pins in build/common.sh): it has Debian's iptables, whose iptables-nft-restore amphi-init runs.
  // The digest is the tag's as public Dockerfiles pin it (Kuma's kuma-init among them); amphi never pulled it here.
  initImage: "registry.k8s.io/build-image/distroless-iptables:v0.8.6@sha256:4e0a77d0973618ce2a76e65fa2dc97694eb690ac8baf69cefe6e20f17957d9dd",
  consulAddress: "http://127.0.0.1:8500",
  checkTTL: "15s",
  deregisterCriticalAfter: "1m",
  namespace: "default",
  transport: "ssh",
  sshUser: "amphi",
  sshPort: 22,
  baseDir: "/opt/amphi",
  maxUnavailable: 1,
  maxUnpackedSize: "4GiB",
  statusProvider: "gitnotes",
  stateBackend: "file",
  statePath: ".amphi",
  forceConflicts: true,
} as const;

/** Normalizes one validated environment file, leaving `placements` empty. */
export function normalizeEnvironment(raw: RawEnvironment, name: string, loc: FileLocator): EnvironmentModel {
  const s = raw.spec;
  return {
    name,
    file: loc.file,
    mesh: normalizeMesh(raw, loc),
    consul: normalizeConsul(s.consul ?? {}, s.consul !== undefined),
    clusters: (s.clusters ?? []).map(
      (c): ClusterModel => ({
        name: c.name, context: c.context, namespace: c.namespace ?? ENV_DEFAULTS.namespace, forceConflicts: s.forceConflicts ?? ENV_DEFAULTS.forceConflicts,
      }),
    ),
    hostGroups: (s.hostGroups ?? []).map(normalizeHostGroup),
    placements: [],
    ignoreDifferences: (s.ignoreDifferences ?? []).map((r): IgnoreRule => ({ kind: r.kind, app: r.app ?? null, jsonPointers: r.jsonPointers })),
    traffic: normalizeTraffic(s.traffic, loc),
    status: normalizeStatus(s.status ?? {}),
    state: normalizeState(s.state ?? {}),
  };
}

function normalizeMesh(raw: RawEnvironment, loc: FileLocator): MeshModel {
  const m = raw.spec.mesh;
  return {
    capture: m.capture ?? ENV_DEFAULTS.capture,
    serviceIP: m.serviceIP,
    proxyUid: m.proxyUid ?? ENV_DEFAULTS.proxyUid,
    outboundPort: m.outboundPort ?? ENV_DEFAULTS.outboundPort,
    inboundPort: m.inboundPort ?? ENV_DEFAULTS.inboundPort,
    dnsPort: m.dnsPort ?? ENV_DEFAULTS.dnsPort,
    domain: m.domain ?? ENV_DEFAULTS.domain,
    dnsUpstreams: m.dnsUpstreams ?? [],
    sidecar: {
      image: m.sidecar.image,
      initImage: m.sidecar.initImage ?? ENV_DEFAULTS.initImage,
      package: m.sidecar.package ? normalizePackage(m.sidecar.package, "/spec/mesh/sidecar/package", loc) : null,
      binary: m.sidecar.binary ?? null,
    },
    controlPlane: m.controlPlane ? controlPlaneAddress(m.controlPlane.address) : null,
  };
}

/** `host:port` (schema-checked) split at its last colon. */
function controlPlaneAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

function normalizeConsul(c: NonNullable<RawEnvironment["spec"]["consul"]>, enabled: boolean): ConsulModel {
  return {
    enabled,
    address: c.address ?? ENV_DEFAULTS.consulAddress,
    datacenter: c.datacenter ?? null,
    tokenEnv: c.tokenEnv ?? null,
    checkTTL: c.checkTTL ?? ENV_DEFAULTS.checkTTL,
    deregisterCriticalAfter: c.deregisterCriticalAfter ?? ENV_DEFAULTS.deregisterCriticalAfter,
  };
}

function normalizeHostGroup(g: RawHostGroup): HostGroupModel {
  const ssh = g.ssh ?? {};
  return {
    name: g.name,
    transport: g.transport ?? ENV_DEFAULTS.transport,
    ssh: {
      user: ssh.user ?? ENV_DEFAULTS.sshUser,
      port: ssh.port ?? ENV_DEFAULTS.sshPort,
      identityFile: ssh.identityFile ?? null,
      knownHostsFile: ssh.knownHostsFile ?? null,
      proxyJump: ssh.proxyJump ?? null,
    },
    baseDir: g.baseDir ?? ENV_DEFAULTS.baseDir,
    maxUnavailable: g.maxUnavailable ?? ENV_DEFAULTS.maxUnavailable,
    maxUnpackedSize: sizeInBytes(g.maxUnpackedSize ?? ENV_DEFAULTS.maxUnpackedSize),
    hosts: g.hosts.map((h) => ({ name: h.name, address: h.address, baseDir: h.baseDir ?? g.baseDir ?? ENV_DEFAULTS.baseDir })),
  };
}

/** `512MiB` → bytes (the schema's pattern has been checked: a whole number and a binary unit). */
export function sizeInBytes(size: string): number {
  const m = /^(\d+)(KiB|MiB|GiB|TiB)$/.exec(size);
  if (!m) throw new Error(`not a size: ${size}`);
  return Number(m[1]) * 1024 ** (["KiB", "MiB", "GiB", "TiB"].indexOf(m[2]!) + 1);
}

function normalizeStatus(s: NonNullable<RawEnvironment["spec"]["status"]>): StatusModel {
  return {
    reportUrl: s.reportUrl ?? null,
    provider: s.provider ?? ENV_DEFAULTS.statusProvider,
    url: s.url ?? null,
    repository: s.repository ?? null,
    tokenEnv: s.tokenEnv ?? null,
  };
}

function normalizeState(s: NonNullable<RawEnvironment["spec"]["state"]>): StateModel {
  return { backend: s.backend ?? ENV_DEFAULTS.stateBackend, path: s.path ?? ENV_DEFAULTS.statePath };
}

// The config repo as amphi understands it: specs with every default applied.
// The raw YAML (as the user wrote it) is kept beside each model for error messages and hashing.
import { InputError, type Problem } from "./problem.js";
import type { TrafficPolicy } from "./traffic.js";
import type { EnvSecrets } from "./secrets.js";

/** Protocol of a service port, as in the original spec.yaml format. */
export type Protocol = "http" | "grpc" | "tcp";

/** One listening port of a service, normalized (`name` derived when absent: `<protocol>-<port>`). */
export interface PortModel {
  name: string;
  targetPort: number;
  protocol: Protocol;
}

/** The health check of a service: an HTTP GET on `port` (default: the service's first port). */
export interface HealthCheckModel {
  path: string;
  port: number;
  intervalSeconds: number;
  timeoutSeconds: number;
}

/** A service of an application: a name in the registry and DNS, its ports, its health check. */
export interface ServiceModel {
  name: string;
  ports: PortModel[];
  healthCheck: HealthCheckModel | null;
}

/** An environment variable: a literal value, or one marked secret (never printed in plans or reports). A secret's
 * `value` is a token (src/model/secrets.ts) once the environment's placements are resolved, never the plaintext. */
export interface EnvVarModel {
  name: string;
  value: string;
  secret: boolean;
  /** A secret with no value in the spec: it comes from the environment's `environments/<env>.secrets.yaml`. */
  fromFile?: boolean;
}

/** Compute resources of a container, passed through to Kubernetes as written. */
export interface ResourcesModel {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

/** How the app runs in a pod. */
export interface ContainerModel {
  image: string;
  replicas: number;
  command: string[] | null;
  args: string[] | null;
  env: EnvVarModel[];
  resources: ResourcesModel | null;
  /** The version its instances run, as the registry tags them (`version:<v>`) and traffic splits name it
   * (`container.version`, or a placement's `overrides.version`). Absent when not written: the image tag is
   * the version then. Absent rather than null so that the spec hash of an app without it stays what it was
   * (a changed hash would roll every Deployment on upgrade). */
  version?: string;
}

/** Where a VM package comes from: a path inside the config repo, or a URL. */
export type PackageSource = { path: string } | { url: string };

/** How the app runs on a VM host: an archive unpacked into a release dir and a start command. */
export interface PackageModel {
  version: string;
  source: PackageSource;
  sha256: string;
  start: string;
  user: string | null;
  env: EnvVarModel[];
}

/** One application (`apps/<app>/spec.yaml`) with defaults applied. */
export interface AppModel {
  name: string;
  /** Repo-relative path of the spec file, e.g. `apps/user/spec.yaml`. */
  file: string;
  services: ServiceModel[];
  container: ContainerModel | null;
  package: PackageModel | null;
  dependsOn: string[];
  /** sha256 (hex) of the normalized spec; lands in the spec-hash annotation and Consul meta. */
  specHash: string;
}

/** Sidecar settings for pods (image) and VMs (Envoy from a package or a binary on the host: at most one is set). */
export interface SidecarModel {
  image: string;
  initImage: string;
  /** Envoy as a package; its `start` is the executable's path inside the unpacked archive. */
  package: PackageModel | null;
  /** Envoy as an absolute path of an executable already on the hosts. */
  binary: string | null;
}

/** Mesh settings of an environment. */
export interface MeshModel {
  /** Whether traffic capture is installed (init container on pods, iptables rules on hosts). */
  capture: boolean;
  /** The one IP that mesh-dns answers for registered services; outbound capture matches only it. */
  serviceIP: string;
  proxyUid: number;
  outboundPort: number;
  inboundPort: number;
  /** Port mesh-dns listens on; DNS port 53 is redirected to it. */
  dnsPort: number;
  /** DNS domain under which services also resolve (`user.mesh` besides `user`). */
  domain: string;
  /** Resolvers for names that are not mesh services; empty = the host's /etc/resolv.conf. */
  dnsUpstreams: string[];
  sidecar: SidecarModel;
  /** Where sidecars reach amphi's xDS control plane (`mesh.controlPlane.address`), or null when not set. */
  controlPlane: ControlPlaneModel | null;
}

/** amphi's xDS control plane as sidecars reach it. */
export interface ControlPlaneModel {
  host: string;
  port: number;
}

/** Consul settings of an environment. The token itself is never in the model, only the variable name. */
export interface ConsulModel {
  /** False when the environment file has no `consul` section: no registrations, no health reporters,
   * no registry to read (a fleet without Consul, e.g. the demo's local environment). */
  enabled: boolean;
  address: string;
  datacenter: string | null;
  tokenEnv: string | null;
  checkTTL: string;
  deregisterCriticalAfter: string;
}

/** A Kubernetes cluster reached through a kubectl context. */
export interface ClusterModel {
  name: string;
  context: string;
  namespace: string;
  /** Whether applies take over fields another field manager changed (`kubectl edit`, `kubectl set image`):
   * the environment's `forceConflicts` (default true), as Flux and Argo CD do with server-side apply. */
  forceConflicts: boolean;
}

/** How amphi reaches the hosts of a group. */
export interface SshModel {
  user: string;
  port: number;
  identityFile: string | null;
  knownHostsFile: string | null;
  proxyJump: string | null;
}

/** A VM host. */
export interface HostModel {
  name: string;
  address: string;
  /** Where amphi keeps its files on this host: the host's own `baseDir`, else the group's. */
  baseDir: string;
}

/** A group of VM hosts sharing transport, base dir and rollout settings. */
export interface HostGroupModel {
  name: string;
  transport: "ssh" | "local";
  ssh: SshModel;
  baseDir: string;
  maxUnavailable: number;
  /** Bytes a package may unpack to on a host of the group (`maxUnpackedSize`, default 4 GiB). */
  maxUnpackedSize: number;
  hosts: HostModel[];
}

/** An app placed onto a cluster. `container` is the app's container with the placement's overrides
 * (image, replicas, env) applied: environments pin versions without touching the app spec. */
export interface ClusterPlacement {
  type: "cluster";
  app: string;
  cluster: string;
  namespace: string;
  container: ContainerModel;
  /** Index in `spec.placements`, for error messages. */
  index: number;
}

/** An app placed onto (some or all) hosts of a host group. `package` is the app's package with the
 * placement's overrides applied; `hosts` is the resolved list (all hosts of the group when not given). */
export interface HostGroupPlacement {
  type: "hostGroup";
  app: string;
  hostGroup: string;
  hosts: string[];
  package: PackageModel;
  index: number;
}

export type Placement = ClusterPlacement | HostGroupPlacement;

/** Fields of live objects that other controllers own (e.g. `/spec/replicas` under an HPA). */
export interface IgnoreRule {
  kind: string;
  app: string | null;
  jsonPointers: string[];
}

/** Where commit statuses go. Tokens come from environment variables named here. */
export interface StatusModel {
  provider: "gitnotes" | "github" | "gitea" | "gitlab" | "none";
  url: string | null;
  repository: string | null;
  tokenEnv: string | null;
  /** Base URL where `reports/` is published (statuses link to the run's HTML report), or null. */
  reportUrl: string | null;
}

/** Where runs, tasks and locks are kept. */
export interface StateModel {
  backend: "file" | "consul";
  path: string;
}

/** One environment (`environments/<env>.yaml`) with defaults applied. */
export interface EnvironmentModel {
  name: string;
  file: string;
  mesh: MeshModel;
  consul: ConsulModel;
  clusters: ClusterModel[];
  hostGroups: HostGroupModel[];
  placements: Placement[];
  ignoreDifferences: IgnoreRule[];
  /** Traffic policy per service (`spec.traffic`), sorted by service, defaults applied. */
  traffic: TrafficPolicy[];
  status: StatusModel;
  state: StateModel;
  /** Its secret values (tokens ↔ plaintext) and its secrets file; absent: none. */
  secrets?: EnvSecrets;
}

/** A whole config repo, validated: apps and environments by name, sorted by name. */
export interface Model {
  /** Where it was read from: a directory path, or `<repo>@<rev>`. */
  source: string;
  /** Commit SHA when loaded from Git, else null. */
  revision: string | null;
  apps: AppModel[];
  environments: EnvironmentModel[];
  /** Problems of severity "warning" found while loading (errors throw ConfigError instead). */
  warnings?: Problem[];
}

/** A file of the config repo amphi refuses to read as it stands: a symlink that leaves the repo or points into
 * `.git`, or a symlink loop. `file` is repo-relative; the message names the link and where it points, never
 * what the target holds. Config loading turns it into a located problem of that file. */
export class RepoFileError extends InputError {
  constructor(
    readonly file: string,
    /** What is wrong, e.g. `apps/x/spec.yaml is a symlink to /etc/passwd, outside the config repo`. */
    readonly reason: string,
  ) {
    super(`${reason}; amphi reads only files inside the repo`);
    this.name = "RepoFileError";
  }
}

// The spec as the user wrote it, after schema validation: optional fields still optional, no defaults.
// Normalization (normalize-*.ts) turns these into the model types of src/model/spec.ts.
import type { Protocol, RetryOn } from "../model/index.js";

/** An env var as written; `value` may be a YAML number. */
export interface RawEnvVar {
  name: string;
  value?: string | number;
  secret?: boolean;
}

/** Resource quantities as written. */
export interface RawResources {
  requests?: { cpu?: string | number; memory?: string };
  limits?: { cpu?: string | number; memory?: string };
}

/** A service as written. */
export interface RawService {
  name: string;
  ports: { name?: string; targetPort: number; protocol: Protocol }[];
  healthCheck?: { path: string; port?: number; intervalSeconds?: number; timeoutSeconds?: number };
}

/** A container as written. */
export interface RawContainer {
  image: string;
  replicas?: number;
  command?: string[];
  args?: string[];
  env?: RawEnvVar[];
  resources?: RawResources;
  version?: string | number;
}

/** A package as written (exactly one of path/url), or a placement's partial override of one. */
export interface RawPackage {
  version?: string | number;
  path?: string;
  url?: string;
  sha256?: string;
  start?: string;
  user?: string;
  env?: RawEnvVar[];
}

/** `apps/<app>/spec.yaml` as written. */
export interface RawApp {
  apiVersion: "v1";
  kind: "Application";
  metadata?: { name?: string };
  spec: { services: RawService[]; container?: RawContainer; package?: RawPackage; dependsOn?: string[] };
}

/** A placement as written: onto a cluster or onto a host group. */
export interface RawPlacement {
  app: string;
  cluster?: string;
  namespace?: string;
  replicas?: number;
  hostGroup?: string;
  hosts?: string[];
  overrides?: {
    image?: string;
    env?: RawEnvVar[];
    resources?: RawResources;
    command?: string[];
    args?: string[];
    version?: string | number;
    package?: RawPackage;
  };
}

/** A host group as written. */
export interface RawHostGroup {
  name: string;
  transport?: "ssh" | "local";
  ssh?: { user?: string; port?: number; identityFile?: string; knownHostsFile?: string; proxyJump?: string };
  baseDir?: string;
  maxUnavailable?: number;
  maxUnpackedSize?: string;
  hosts: { name: string; address: string; baseDir?: string }[];
}

/** One service's traffic policy as written (`spec.traffic.<service>`); durations as written (`2s`). */
export interface RawTrafficPolicy {
  /** Version → percent. A version written as a YAML number (`1.0: 50`) arrives as the number's key (`"1"`). */
  split?: Record<string, number>;
  timeout?: string;
  retries?: { attempts: number; perTryTimeout?: string; on?: RetryOn[] };
  circuitBreaker?: { maxConnections?: number; maxPendingRequests?: number; maxRequests?: number };
  outlierDetection?: { consecutive5xx?: number; ejectionTime?: string; interval?: string; maxEjectionPercent?: number };
  rateLimit?: { requests: number; per?: string; burst?: number };
}

/** `environments/<env>.yaml` as written. */
export interface RawEnvironment {
  apiVersion: "v1";
  kind: "Environment";
  metadata?: { name?: string };
  spec: {
    mesh: {
      capture?: boolean;
      serviceIP: string;
      proxyUid?: number;
      outboundPort?: number;
      inboundPort?: number;
      dnsPort?: number;
      domain?: string;
      dnsUpstreams?: string[];
      sidecar: { image: string; initImage?: string; package?: RawPackage; binary?: string };
      controlPlane?: { address: string };
    };
    consul?: { address?: string; datacenter?: string; tokenEnv?: string; checkTTL?: string; deregisterCriticalAfter?: string };
    clusters?: { name: string; context: string; namespace?: string }[];
    hostGroups?: RawHostGroup[];
    placements?: RawPlacement[];
    ignoreDifferences?: { kind: string; app?: string; jsonPointers: string[] }[];
    traffic?: Record<string, RawTrafficPolicy>;
    forceConflicts?: boolean;
    status?: { provider?: "gitnotes" | "github" | "gitea" | "gitlab" | "none"; url?: string; repository?: string; tokenEnv?: string; reportUrl?: string };
    state?: { backend?: "file" | "consul"; path?: string };
  };
}

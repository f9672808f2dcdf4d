// The mesh as the control plane sees it at one moment: services, their ports and instances (passing or not, by
// version and locality), each service's traffic policy, and the environment's mesh settings. Built from the registry
// and the config repo by an adapter; turned into Envoy resources by the pure builders next to this file.
import type { Protocol } from "../model/spec.js";
import type { TrafficPolicy } from "../model/traffic.js";

/** One instance of one service port, as the registry knows it. */
export interface MeshInstance {
  /** Registry id (`<app>-<host>-<port>`, or a pod's), unique within the service port. */
  id: string;
  address: string;
  port: number;
  /** `version:<v>` of the instance, or null when it carries none. */
  version: string | null;
  /** Where it runs: the cluster of a pod, the host group of a VM; "" when unknown. */
  locality: string;
  /** Whether the registry's checks pass: only passing instances get calls. */
  passing: boolean;
}

/** One port of a service, with every instance that serves it. */
export interface MeshPort {
  port: number;
  protocol: Protocol;
  instances: MeshInstance[];
}

/** One service of the mesh. */
export interface MeshService {
  name: string;
  /** The app the service belongs to (its sidecars' node ids name it); absent: the app of that name. */
  app?: string;
  ports: MeshPort[];
  /** The service's traffic policy in this environment, or null: the mesh's defaults. */
  policy: TrafficPolicy | null;
}

/** The environment's mesh settings (`mesh:` in the environment file). */
export interface MeshSettings {
  /** The mesh DNS domain: `billing.<domain>` names a service too. */
  domain: string;
  /** The sidecar's outbound listener port (capture sends calls to the mesh IP here). */
  outboundPort: number;
  /** The sidecar's inbound listener port (capture sends calls to the apps' ports here). */
  inboundPort: number;
  /** What pod sidecars' DNS listener answers (dns.ts); absent: pods get none. */
  podDns?: PodDnsSettings;
}

/** What the pods' DNS listener needs (MeshSettings.podDns; the listener is dns.ts). */
export interface PodDnsSettings {
  /** Where it listens on 127.0.0.1 (mesh.dnsPort, where capture sends DNS). */
  port: number;
  /** What every mesh name resolves to. */
  serviceIP: string;
  /** Namespaces of the environment's pods: their search path suffixes get mesh names too. */
  namespaces: string[];
  /** mesh.dnsUpstreams (fallback resolvers); empty: the pod's own. */
  upstreams: string[];
}

/** Everything the control plane serves for one environment. */
export interface MeshSnapshot {
  env: string;
  settings: MeshSettings;
  services: MeshService[];
  /** The apps placed on each VM host (`<hostGroup>/<host>` → app names, sorted): one host sidecar serves them all.
   * Absent: no VM hosts known. */
  hostApps?: Record<string, string[]>;
}

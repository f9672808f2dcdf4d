// The sidecar resource kind: the one Envoy of a VM host that runs mesh apps, owned by the host rather than an
// app. The model's Resource union gains this member here, and Observed what is seen of it, by module augmentation.

/** Where a host's Envoy comes from: a sha256-pinned package (its `exe` is the executable's path inside the
 * unpacked archive) or an executable already on the host. */
export type VmSidecarSource =
  | { package: { path: string } | { url: string }; version: string; sha256: string; exe: string }
  | { binary: string };

/** One host's Envoy as amphi runs it: supervised like an app (under `<baseDir>/sidecar/`), as the proxy uid,
 * from `bootstrap` (src/mesh/bootstrap.ts: its node id names the host, its ADS cluster the control plane). */
export interface VmSidecar {
  hostGroup: string;
  host: string;
  /** The host's address (what clients connect to; the record of the supervised process names it). */
  address: string;
  baseDir: string;
  source: VmSidecarSource;
  /** The xDS node id: `host~<env>~<hostGroup>~<host>` (model/proxies.ts). */
  nodeId: string;
  /** The proxy uid (`mesh.proxyUid`): capture leaves its traffic alone. */
  user: number;
  /** Envoy's admin interface on 127.0.0.1 (`GET /ready`, `POST /drain_listeners`). */
  adminPort: number;
  /** The capture ports: what must accept connections before capture rules go in. */
  inboundPort: number;
  outboundPort: number;
  /** Seconds listeners drain (`POST /drain_listeners?graceful`) before an upgrade restarts Envoy. */
  drainSeconds: number;
  /** The bootstrap YAML (envoyBootstrapYaml) and the first 16 hex digits of its sha256, what plans show. */
  bootstrap: string;
  bootstrapDigest: string;
}

declare module "../../model/resources.js" {
  interface RuntimeResources {
    sidecar: { app: null; sidecar: VmSidecar };
  }

  interface Observed {
    /** sidecar: whether Envoy answers (admin `/ready` 200 and both capture ports accepting). */
    proxy?: "ready" | "down";
  }
}

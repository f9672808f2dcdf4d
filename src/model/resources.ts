// Desired and actual state share one resource shape, paired by key.
// Render produces DesiredState; adapters (kubectl, hosts, Consul) or an --actual file produce ActualState.
import type { ObservedProxy } from "./proxies.js";

/** The stable identity of a resource; pairing desired and actual is by this string. Examples:
 * `k8s/eu1/Deployment/apps/user`, `vm/legacy/vm-2/user`, `capture/legacy/vm-2`, `consul/user/user-vm-2-8091`. */
export type ResourceKey = string;

/** What a resource of each runtime holds beyond its identity, by the runtime's name. Empty here: each
 * runtime folder adds its own entry by module augmentation (src/runtimes/<name>/resource.ts), so the model
 * names no runtime. The list of runtimes, in apply order, is src/runtimes/index.ts. */
export interface RuntimeResources {}

/** The runtimes a plan step can touch (`k8s`, `vm`, `capture`, `consul`: one per runtime folder). */
export type Runtime = Extract<keyof RuntimeResources, string>;

/** A JSON value, as found in Kubernetes objects and in the actual-state file. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A Kubernetes object as plain JSON (apiVersion, kind, metadata, spec, …). */
export type K8sObject = { [key: string]: Json } & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } & {
    [key: string]: Json | undefined;
  };
};

/** One listening port of a host instance. */
export interface InstancePort {
  name: string;
  port: number;
  protocol: "http" | "grpc" | "tcp";
}

/** One app on one VM host: everything the host tasks need, and what `state.json` records. */
export interface HostInstance {
  app: string;
  env: string;
  hostGroup: string;
  host: string;
  address: string;
  baseDir: string;
  version: string;
  package: { path: string } | { url: string };
  sha256: string;
  start: string;
  user: string | null;
  /** Environment of the process; secret values are kept out of plans by the diff's redaction. */
  environment: Record<string, string>;
  secretEnv: string[];
  ports: InstancePort[];
  /** `http://<address>:<port><path>` style health target, or null when no service has a health check. */
  health: { path: string; port: number } | null;
  services: string[];
  specHash: string;
  /** Consul service IDs this instance is registered under (`<app>-<host>-<port>`). */
  registrations: string[];
}

/** The capture rules of one host: an `iptables-restore --noflush` fragment declaring only AMPHI_* chains,
 * plus the jumps from the built-in chains that the host task inserts idempotently. One per host because
 * a chain declared in a `--noflush` fragment is flushed: per-app fragments would erase each other.
 * `fragment` is the text render/iptables.ts formats from the structured chains and rules (IptablesRestore)
 * render/capture.ts builds; it stays text here because this record is what state.json, `--actual` files and
 * `render --out` carry (older records too), and diff/iptables.ts parses it back into structure. */
export interface CaptureRules {
  hostGroup: string;
  host: string;
  /** Inbound ports per app on this host (what the fragment redirects to the inbound port). */
  inbound: { app: string; ports: number[] }[];
  fragment: string;
  hooks: { table: "nat" | "raw"; chain: string; rule: string }[];
  /** mesh-dns on the host, the target of the DNS redirect: runs as `user` (the proxy uid, which capture
   * excludes) on `listen`:`port`. `upstreams` empty: the host's resolv.conf nameservers, read at install
   * time. `consul`: the catalog's address (null: no Consul, an empty zone). Absent in records written
   * before amphi ran mesh-dns on hosts (and in hand-made rules): no mesh-dns is installed for them. */
  dns?: { listen: string; port: number; domain: string; serviceIP: string; upstreams: string[]; consul: string | null; user: number };
  /** The host's sidecar (Envoy) the rules send traffic to: the capture task installs rules only once its admin
   * `/ready` answers 200 and both ports accept. Absent when the environment has no VM sidecar (and in older
   * records): no such check. */
  proxy?: { adminPort: number; inboundPort: number; outboundPort: number };
}

/** One line of an `iptables-restore` table section that names a chain: `-A CHAIN ARGS` appends a rule,
 * `-D` deletes one, `-N` creates the chain, `-F`/`-X` flush/delete it. `args` are the rule's tokens as
 * iptables reads them (quotes removed). */
export interface IptablesOp {
  op: "-A" | "-D" | "-N" | "-F" | "-X";
  chain: string;
  args: string[];
}

/** One table of `iptables-restore` input or `iptables-save` output: its declared chains (`:NAME POLICY`;
 * policy `-` for user chains) and its lines in order. */
export interface IptablesTable {
  name: string;
  chains: { name: string; policy: string }[];
  ops: IptablesOp[];
}

/** `iptables-restore` input as structure: comment lines (with their `#`) before the first table, then
 * the tables. render/iptables.ts formats it; diff/iptables.ts parses `iptables-save` output into it. */
export interface IptablesRestore {
  comments: string[];
  tables: IptablesTable[];
}

/** A Consul agent service registration for one port of one host instance. */
export interface Registration {
  id: string;
  service: string;
  app: string;
  env: string;
  host: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  check: { checkId: string; ttl: string; deregisterCriticalServiceAfter: string; notes: string };
}

/** What every resource has, whatever its runtime. `target` is a cluster name or `<hostGroup>/<host>`;
 * `app` is null for what belongs to a target rather than to an app (a host's capture rules). */
export interface ResourceBase<R extends Runtime = Runtime> {
  runtime: R;
  key: ResourceKey;
  app: string | null;
  target: string;
}

/** A resource amphi manages, tagged by runtime: one member per runtime, narrowed by comparing `runtime` with a name. */
export type Resource = { [R in Runtime]: ResourceBase<R> & RuntimeResources[R] }[Runtime];

/** What amphi wants to exist for one environment, in key order. */
export interface DesiredState {
  env: string;
  resources: Resource[];
}

/** Observed liveness that is not part of the spec (a stopped process, a failing check): one bag of optional
 * fields. Empty here: each runtime folder adds the fields it observes (src/runtimes/<name>/resource.ts, by
 * module augmentation). */
export interface Observed {}

/** An actual resource: the same shape as desired, plus what was observed about it. */
export type ActualResource = Resource & { observed?: Observed };

/** A target (cluster or host) whose state could not be read. Nothing there is planned for deletion;
 * its resources are reported as unknown. */
export interface UnreachableTarget {
  runtime: Runtime;
  target: string;
  reason: string;
}

/** What exists, as read by adapters or from an `--actual` file. Contains only resources amphi owns
 * (labelled `app.kubernetes.io/managed-by=amphi` or recorded in a host's state.json or amphi-tagged in Consul). */
export interface ActualState {
  env: string;
  observedAt: string | null;
  resources: ActualResource[];
  unreachable: UnreachableTarget[];
  /** The mesh's proxies as its control plane published them (absent: none read); drift, never a plan step. */
  proxies?: ObservedProxy[];
}

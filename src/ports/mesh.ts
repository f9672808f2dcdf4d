// The MeshPolicyStore port: the traffic policy an environment's mesh serves — what the loop applied last and the
// config revision it came from. The mesh runtime's task handler writes it (runtime-io/mesh.ts); every control-plane
// replica reads and watches it (cli/xds.ts, `amphi serve --xds-listen`), so the control plane keeps no state of its
// own: the file backend under the state directory, or Consul KV for `state.backend: consul`.
// The replicas publish what they know of their proxies next to it (ProxyStatusStore), for drift to read.
import type { ObservedProxy, TrafficPolicy } from "../model/index.js";

/** The policy applied to one environment's mesh. */
export interface AppliedMesh {
  env: string;
  /** The config commit the last recorded change came from (null: a plain directory, no revision). */
  revision: string | null;
  /** When it was recorded (ISO time). */
  appliedAt: string;
  /** One per service, sorted by service. */
  policies: TrafficPolicy[];
  /** Service → the app that declares it (the plan names a policy's app). */
  apps: Record<string, string>;
}

/** A running watch of the applied policy. */
export interface MeshPolicyWatch {
  /** Resolves once the first read was delivered (or the watch was stopped). */
  ready: Promise<void>;
  stop(): void;
}

/** Where one environment's applied mesh policy is kept. */
export interface MeshPolicyStore {
  /** Where it is, for messages (a file path or `consul <address> <key>`; never a token). */
  readonly description: string;
  /** The applied policy, or null when nothing was applied yet. Throws when the store cannot be read. */
  read(signal?: AbortSignal): Promise<AppliedMesh | null>;
  /** Records `applied` (atomically: readers see the old or the new record). */
  write(applied: AppliedMesh, signal?: AbortSignal): Promise<void>;
  /** Calls `onChange` with the first read and then with every change (null: nothing applied); errors go to
   * `onError` and the watch goes on. */
  watch(onChange: (applied: AppliedMesh | null) => void, onError: (error: Error) => void): MeshPolicyWatch;
}

/** What one control-plane replica publishes of its proxies (ProxyStatusStore). A replica rewrites it on every
 * change (at most about once a second) and at least every heartbeat; a record whose `heartbeatAt` is older than
 * {@link PROXY_RECORD_STALE_MS} is a dead replica's and tells nothing of live proxies. */
export interface ProxyStatusRecord {
  env: string;
  /** The replica's id (`<hostname>-<pid>-<random>`), unique per process. */
  replica: string;
  /** When the replica last wrote it (ISO time). */
  heartbeatAt: string;
  proxies: ObservedProxy[];
}

/** How often a live replica rewrites its record even when nothing changed. */
export const PROXY_HEARTBEAT_MS = 5_000;
/** A record not rewritten for this long is a dead replica's (six heartbeats missed). */
export const PROXY_RECORD_STALE_MS = 30_000;

/** Where the control-plane replicas of one environment publish their proxies, next to the applied policy. */
export interface ProxyStatusStore {
  readonly description: string;
  /** Writes (replaces) `record` as its replica's. */
  publish(record: ProxyStatusRecord, signal?: AbortSignal): Promise<void>;
  /** Removes the replica's record (a replica that stops cleanly). */
  withdraw(replica: string, signal?: AbortSignal): Promise<void>;
  /** Every replica's record, stale ones included (the reader decides). A record that is not one (not JSON, another
   * environment's, a wrong field) is skipped and named through `skipped`: one replica's bad write must not hide
   * every other replica's proxies. Throws when the store itself cannot be read. */
  readAll(signal?: AbortSignal, skipped?: (problem: string) => void): Promise<ProxyStatusRecord[]>;
}

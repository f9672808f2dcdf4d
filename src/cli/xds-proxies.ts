// A control-plane replica publishes what it knows of its proxies (ports/mesh.ts ProxyStatusStore), so `amphi drift`
// and the reconcile cycle see NACKs and lost proxies without talking to the control plane process: its record is
// rewritten when a node connects, disconnects, ACKs or NACKs (at most once per second: a push to 2,000 proxies
// is one write, not 2,000) and every heartbeat (PROXY_HEARTBEAT_MS), so a dead replica's record goes stale; a
// replica that stops cleanly withdraws it.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { firstLine, type ObservedProxy } from "../model/index.js";
import { PROXY_HEARTBEAT_MS, type ProxyStatusStore } from "../ports/mesh.js";
import type { XdsStatus } from "../adapters/xds/index.js";

/** Minimum time between two writes of the record. */
const MIN_WRITE_GAP_MS = 1_000;

/** The proxies of a status as a record carries them: node ids, connected or since when not, per type the last
 * ACKed and NACKed versions with the error's first line. */
export function proxiesOf(status: XdsStatus): ObservedProxy[] {
  return status.nodes.map((n) => ({
    id: n.id,
    connected: n.streams > 0,
    since: new Date(n.since).toISOString(),
    types: Object.fromEntries(Object.entries(n.types).map(([kind, t]) => [kind, { acked: t.acked, nacked: t.nacked, error: t.error === null ? null : firstLine(t.error) }])),
  }));
}

/** A unique id for this replica: host, pid and a random part. */
export function replicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** Publishes `status()` to `store` as `replica`'s record of `env`: now, on every `changed()`, and every heartbeat. */
export function publishProxies(
  store: ProxyStatusStore,
  opts: { env: string; replica: string; status: () => XdsStatus; log: (line: string) => void; heartbeatMs?: number },
): { changed(): void; stop(): Promise<void> } {
  let lastWrite = 0;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let lastError: string | null = null;
  const write = (): void => {
    timer = null;
    if (stopped) return;
    if (writing) {
      again = true;
      return;
    }
    lastWrite = Date.now();
    writing = Promise.resolve()
      // Built inside the chain: a status that cannot be written (a throw) is logged like a failed write, never
      // thrown out of the timer.
      .then(() => store.publish({ env: opts.env, replica: opts.replica, heartbeatAt: new Date().toISOString(), proxies: proxiesOf(opts.status()) }))
      .then(() => {
        if (lastError !== null) opts.log(`proxy status: written again to ${store.description}`);
        lastError = null;
      })
      .catch((e: Error) => {
        if (e.message !== lastError) opts.log(`proxy status: cannot write to ${store.description}: ${e.message} (retried at the next change or heartbeat)`);
        lastError = e.message;
      })
      .finally(() => {
        writing = null;
        if (again) {
          again = false;
          changed();
        }
      });
  };
  const changed = (): void => {
    if (stopped || timer) return;
    timer = setTimeout(write, Math.max(0, lastWrite + MIN_WRITE_GAP_MS - Date.now()));
    timer.unref();
  };
  const heartbeat = setInterval(changed, opts.heartbeatMs ?? PROXY_HEARTBEAT_MS);
  heartbeat.unref();
  changed();
  return {
    changed,
    stop: async () => {
      stopped = true;
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      await writing;
      await store.withdraw(opts.replica).catch((e: Error) => opts.log(`proxy status: cannot withdraw ${opts.replica} from ${store.description}: ${e.message}`));
    },
  };
}

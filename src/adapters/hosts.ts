// One connector for a whole environment: sessions go through ssh or run locally by the host group's
// `transport`; refs are built from the environment model.
import { isAbsolute, resolve } from "node:path";
import type { EnvironmentModel } from "../model/index.js";
import type { HostConnector, HostRef, HostSession } from "../ports/hosts.js";

/** Dispatches `open` to the connector of the host's transport. Connectors are made on first use: the ssh
 * stack takes ~50 ms to load, which commands that never reach a host (plan --actual) should not pay. */
export class TransportConnector implements HostConnector {
  private readonly made = new Map<HostRef["transport"], Promise<HostConnector>>();

  constructor(private readonly factories: Record<HostRef["transport"], () => Promise<HostConnector>>) {}

  /** Opens a session with the connector of `host.transport`. */
  async open(host: HostRef, signal?: AbortSignal): Promise<HostSession> {
    let connector = this.made.get(host.transport);
    if (!connector) {
      connector = this.factories[host.transport]();
      this.made.set(host.transport, connector);
    }
    return (await connector).open(host, signal);
  }

  /** Closes every session of every transport used. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.made.values()].map(async (c) => (await c).closeAll()));
  }
}

/** Every host of an environment as a HostRef, keyed by `<group>/<host>`. A relative `baseDir` of a local
 * group is resolved against `cwd` (the demo keeps its hosts under `.amphi/`). */
export function hostRefs(env: EnvironmentModel, cwd: string): Map<string, HostRef> {
  const out = new Map<string, HostRef>();
  for (const group of env.hostGroups) {
    for (const h of group.hosts) {
      const baseDir = group.transport === "local" && !isAbsolute(h.baseDir) ? resolve(cwd, h.baseDir) : h.baseDir;
      const ref = { group: group.name, host: h.name, address: h.address, transport: group.transport, ssh: group.ssh, baseDir };
      out.set(`${group.name}/${h.name}`, { ...ref, maxUnpackedSize: group.maxUnpackedSize });
    }
  }
  return out;
}

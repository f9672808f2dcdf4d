// Port clashes on VM hosts: two apps on one host cannot listen on the same port, and with capture on
// no app may take the sidecar's or mesh DNS's port. (Pods have their own network; no check there.)
import type { AppModel, EnvironmentModel, HostGroupPlacement, Problem } from "../model/index.js";
import type { FileLocator } from "./problems.js";

interface Taken {
  app: string;
  index: number;
}

/** Checks every host of one environment for port clashes between its resolved host placements.
 * One problem per placement, port and rival, listing the hosts where they meet. */
export function checkHostPorts(env: EnvironmentModel, apps: Map<string, AppModel>, loc: FileLocator): Problem[] {
  const taken = new Map<string, Map<number, Taken>>(); // `group/host` → port → first user
  const clashes = new Map<string, { index: number; message: string; hint: string; hosts: string[] }>();
  const mesh = meshPorts(env);
  for (const pl of env.placements) {
    if (pl.type !== "hostGroup") continue;
    const app = apps.get(pl.app);
    if (!app) continue;
    for (const port of appPorts(app)) {
      for (const host of pl.hosts) {
        const where = `${pl.hostGroup}/${host}`;
        const clash = rival(taken, mesh, pl, port, where);
        if (!clash) continue;
        const id = `${pl.index}:${port}:${clash.message}`;
        const entry = clashes.get(id) ?? { index: pl.index, ...clash, hosts: [] };
        entry.hosts.push(where);
        clashes.set(id, entry);
      }
    }
  }
  return [...clashes.values()].map((c) =>
    loc.problem(`/spec/placements/${c.index}`, `${c.message} on ${c.hosts.join(", ")}`, { at: "node", hint: c.hint }),
  );
}

/** What `port` of the placement's app clashes with on `where`, registering it when free. */
function rival(taken: Map<string, Map<number, Taken>>, mesh: Map<number, string>, pl: HostGroupPlacement, port: number, where: string) {
  const role = mesh.get(port);
  if (role) {
    return { message: `port ${port} of app "${pl.app}" is the mesh ${role}`, hint: `change the app's port or mesh.${role}` };
  }
  let ports = taken.get(where);
  if (!ports) taken.set(where, (ports = new Map()));
  const first = ports.get(port);
  if (!first) {
    ports.set(port, { app: pl.app, index: pl.index });
    return null;
  }
  if (first.app === pl.app) return null;
  return { message: `port ${port} of app "${pl.app}" is also used by app "${first.app}"`, hint: `placed at /spec/placements/${first.index}` };
}

/** The sidecar's and mesh DNS's ports on every host, when capture is on. */
function meshPorts(env: EnvironmentModel): Map<number, string> {
  const m = env.mesh;
  if (!m.capture) return new Map();
  return new Map([
    [m.dnsPort, "dnsPort"],
    [m.inboundPort, "inboundPort"],
    [m.outboundPort, "outboundPort"],
  ]);
}

function appPorts(app: AppModel): number[] {
  return [...new Set(app.services.flatMap((s) => s.ports.map((p) => p.targetPort)))];
}

// Hosts that two environments share with one baseDir. A baseDir belongs to one environment (its
// state.json says which); on the host, every other environment is refused there (hosts/claim.ts). Here
// the clash is named before anything runs, as a warning: an error would stop every environment of the
// repo, the one that owns the baseDir included, while the host already keeps them apart safely.
import type { EnvironmentModel, Problem } from "../model/index.js";
import type { FileLocator } from "./problems.js";

/** One environment's model and where its file is. */
export interface LocatedEnvironment {
  env: EnvironmentModel;
  loc: FileLocator;
}

/** Warns at each host of a later environment (by name) that is the same place as a host of an earlier
 * one: transport local with the same baseDir, or transport ssh with the same address, SSH port and
 * baseDir. */
export function checkSharedBaseDirs(envs: LocatedEnvironment[]): Problem[] {
  const first = new Map<string, { env: string; file: string; host: string }>();
  const out: Problem[] = [];
  for (const { env, loc } of [...envs].sort((a, b) => (a.env.name < b.env.name ? -1 : 1))) {
    env.hostGroups.forEach((g, gi) =>
      g.hosts.forEach((h, hi) => {
        const key = g.transport === "local" ? `local ${h.baseDir}` : `ssh ${h.address.toLowerCase()} ${g.ssh.port} ${h.baseDir}`;
        const prev = first.get(key);
        if (!prev) return void first.set(key, { env: env.name, file: loc.file, host: `${g.name}/${h.name}` });
        if (prev.env === env.name) return;
        const where = g.transport === "local" ? `baseDir ${h.baseDir} on this machine` : `${h.address}, baseDir ${h.baseDir}`;
        out.push(
          loc.warning(`/spec/hostGroups/${gi}/hosts/${hi}`, `host "${h.name}" (${where}) is also host ${prev.host} of environment "${prev.env}" (${prev.file}); a baseDir belongs to the first environment that deploys there and refuses the other`, {
            at: "node",
            hint: "give each environment its own baseDir (hostGroups[].baseDir)",
          }),
        );
      }),
    );
  }
  return out;
}

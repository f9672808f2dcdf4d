// The live-state reader of the runtimes on hosts: each host is opened once and probed once (state.json,
// process liveness), then each host part (hosts/part.ts) reads its resources there through the same
// session. A host that cannot be read (unreachable, or claimed by another environment: hosts/claim.ts) is
// reported unreachable, never as empty.
import type { ActualResource, EnvironmentModel } from "../model/index.js";
import type { ActualRead, ActualReader } from "../ports/actual.js";
import type { HostConnector, HostRef } from "../ports/hosts.js";
import { forEachLimit, hostTarget } from "../model/index.js";
import type { HostPart, HostReadContext } from "./part.js";
import { probe } from "./probe.js";

/** What reading hosts needs. */
export interface HostsReaderDeps {
  connector: HostConnector;
  hosts: Map<string, HostRef>;
  /** What is read on each host, in this order. An unreachable host is reported under the first part's
   * runtime (it hides every part's resources there). */
  parts: readonly HostPart[];
  now(): string;
  /** Bound on hosts probed at once. */
  parallel: number;
  /** Where a host's warnings go (a state.json recovered from its backup); default: dropped. */
  warn?(line: string): void;
}

/** Reads the environment's hosts, up to `parallel` at once. */
export class HostsReader implements ActualReader {
  constructor(private readonly deps: HostsReaderDeps) {}

  async read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    const deps = this.deps;
    const out: ActualRead = { resources: [], unreachable: [] };
    const first = deps.parts[0];
    if (!first) return out;
    await forEachLimit([...deps.hosts.values()], deps.parallel, async (ref) => {
      try {
        out.resources.push(...(await readHost(env, ref, deps, signal)));
      } catch (e) {
        out.unreachable.push({ runtime: first.runtime, target: hostTarget(ref.group, ref.host), reason: (e as Error).message });
      }
    });
    return out;
  }
}

// Another environment's record on this host fails the probe (hosts/claim.ts): the target is unreachable.
async function readHost(env: EnvironmentModel, ref: HostRef, deps: HostsReaderDeps, signal: AbortSignal | undefined): Promise<ActualResource[]> {
  const session = await deps.connector.open(ref, signal);
  const ctx: HostReadContext = { session, env: env.name, now: deps.now, log: (l) => deps.warn?.(l), signal, ref };
  const seen = await probe(ctx);
  const out: ActualResource[] = [];
  for (const part of deps.parts) out.push(...(await part.read(ctx, seen)));
  return out;
}

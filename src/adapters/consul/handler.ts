// Runs the registry tasks of a run (register, deregister) against the environment's Consul agent.
import type { Registration, TaskRecord } from "../../model/index.js";
import type { TaskSpec } from "../../plan/tasks.js";
import type { TaskHandler, TaskOutcome } from "../../ports/tasks.js";
import { ConsulError, type ConsulClient } from "./client.js";
import { deregister, recordOf, register, type DurationSpelling, type HealthEntryJson } from "./registry.js";
import { canonicalJson } from "../../model/canonical-json.js";

/** Options of the registry handler. */
export interface RegistryHandlerOptions {
  client: ConsulClient;
  /** Environment name (registrations of other environments are never touched). */
  env: string;
}

/** The TaskHandler for `register` / `deregister` tasks. Idempotent: a registration Consul already has as
 * desired is `unchanged` (no write, so its check keeps its status); deregistering an ID the agent does not
 * have is `unchanged`. Failures are ConsulErrors naming the agent's address (they fail the task, they do
 * not halt the host group's rollout). */
export class RegistryTaskHandler implements TaskHandler {
  constructor(private readonly opts: RegistryHandlerOptions) {}

  /** Runs one registry task. */
  async run(task: TaskRecord & { spec: TaskSpec }, ctx: { signal: AbortSignal; log(line: string): void }): Promise<TaskOutcome> {
    const p = task.spec.payload;
    const { client } = this.opts;
    if (p.kind === "register") {
      const reg = p.registration;
      const subject = `${reg.id} (${reg.service} on ${reg.host}, ${reg.address}:${reg.port})`;
      if (await this.isRegistered(reg, ctx.signal)) return { result: "unchanged", message: `${subject} is registered as desired` };
      ctx.log(`registering ${reg.id} with ${client.address}`);
      await register(client, reg, { signal: ctx.signal });
      return { result: "changed", message: `registered ${subject}; check ${reg.check.checkId} (TTL ${reg.check.ttl})` };
    }
    if (p.kind === "deregister") {
      ctx.log(`deregistering ${p.id} from ${client.address}`);
      const gone = await deregister(client, p.id, { signal: ctx.signal });
      return gone ? { result: "changed", message: `deregistered ${p.id} (${p.service})` } : { result: "unchanged", message: `${p.id} is not registered` };
    }
    throw new ConsulError(client.address, null, `${task.target}: ${p.kind} is not a registry task`);
  }

  // The one service's entries; equal when every field render sets reads back the same.
  private async isRegistered(reg: Registration, signal: AbortSignal): Promise<boolean> {
    const { client } = this.opts;
    const health = await client.get<HealthEntryJson[]>(`/v1/health/service/${encodeURIComponent(reg.service)}`, {
      query: client.datacenter ? { dc: client.datacenter } : {},
      signal,
    });
    const entry = (health.data ?? []).find((e) => e.Service.ID === reg.id);
    if (!entry) return false;
    const spelling: DurationSpelling = { checkTTL: reg.check.ttl, deregisterCriticalAfter: reg.check.deregisterCriticalServiceAfter };
    return canonicalJson(recordOf(entry, this.opts.env, spelling).registration) === canonicalJson(reg);
  }
}

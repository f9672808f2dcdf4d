// The registry's live-state reader: amphi-tagged registrations of the environment in Consul's catalog and
// health; a Consul that cannot be read is one unreachable target (its address). Environments without
// Consul read nothing.
import type { EnvironmentModel } from "../../model/index.js";
import type { ActualRead, ActualReader } from "../../ports/actual.js";
import { readRegistry } from "./registry.js";

/** Reads the environment's Consul registrations (the token from the variable `consul.tokenEnv` names). */
export class RegistryReader implements ActualReader {
  constructor(private readonly processEnv?: Record<string, string | undefined>) {}

  async read(env: EnvironmentModel, signal?: AbortSignal): Promise<ActualRead> {
    if (!env.consul.enabled) return { resources: [], unreachable: [] };
    try {
      return { resources: (await readRegistry(env, { processEnv: this.processEnv, signal })).resources, unreachable: [] };
    } catch (e) {
      return { resources: [], unreachable: [{ runtime: "consul", target: env.consul.address, reason: (e as Error).message }] };
    }
  }
}

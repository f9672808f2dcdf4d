// The registry watch port on Consul: catalog and per-service blocking-query watches (watch.ts) and the
// registry read (registry.ts), with the environment's client (its token from `consul.tokenEnv`).
import { CONSUL_TAG, type EnvironmentModel } from "../../model/index.js";
import type { RegistryWatcher, WatchedRegistry } from "../../ports/registry.js";
import { consulClientFor } from "./client.js";
import { readRegistry } from "./registry.js";
import { watchCatalog, watchService } from "./watch.js";

/** Opens environments' Consul for `serve`'s health watch. */
export class ConsulRegistryWatcher implements RegistryWatcher {
  constructor(private readonly processEnv: Record<string, string | undefined>) {}

  open(env: EnvironmentModel): WatchedRegistry {
    const client = consulClientFor(env.consul, this.processEnv);
    return {
      address: client.address,
      watchCatalog: (opts) => watchCatalog(client, opts),
      watchService: (service, opts) => watchService(client, service, { ...opts, tag: CONSUL_TAG }),
      read: async (e, signal) => (await readRegistry(e, { client, signal })).resources,
    };
  }
}

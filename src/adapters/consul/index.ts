// Consul adapter: amphi's VM registrations in, out of and watched in Consul's HTTP API (plain fetch).
// Writes go through the agent API of the environment's one agent (`consul.address`); reads through the
// catalog and health endpoints; watches are blocking queries with a payload hash.
export { ConsulClient, ConsulError, consulClientFor, type ConsulClientOptions, type ConsulRead, type RequestOptions } from "./client.js";
export { formatDuration, parseDuration } from "../../model/duration.js";
export {
  deregister,
  failCheck,
  passCheck,
  readRegistry,
  register,
  services,
  targetOf,
  worstStatus,
  type CheckStatus,
  type DurationSpelling,
  type HealthEntryJson,
  type ReadRegistryOptions,
  type RegistryRecord,
} from "./registry.js";
export { RegistryReader } from "./reader.js";
export { RegistryTaskHandler, type RegistryHandlerOptions } from "./handler.js";
export { instancesOf, watchCatalog, watchPath, watchService, type ServiceInstance, type Watch, type WatchOptions } from "./watch.js";
export { consulPodCatalog, deregisterPod, podCheckId, podRegistrationOf, readPodRegistrations, registerPod } from "./pods.js";

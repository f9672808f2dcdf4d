import type { Registration } from "../../model/index.js";

/** Payloads of the registry runtime's tasks. */
export type RegistryPayload = { kind: "register"; registration: Registration } | { kind: "deregister"; id: string; service: string };

declare module "../../model/run.js" {
  interface RuntimeTaskPayloads {
    consul: RegistryPayload;
  }
}

// The registry runtime's I/O: the environment's Consul, through its HTTP API (adapters/consul).
import { consulClientFor } from "../adapters/consul/client.js";
import { RegistryReader } from "../adapters/consul/reader.js";
import { RegistryTaskHandler } from "../adapters/consul/handler.js";
import type { RuntimeIo } from "./types.js";

/** Reads the environment's registrations (nothing without Consul); registers and deregisters when the
 * environment has Consul. */
export const registryIo: RuntimeIo = {
  runtime: "consul",
  reader: (ctx) => new RegistryReader(ctx.processEnv),
  handler: (ctx) => (ctx.env.consul.enabled ? new RegistryTaskHandler({ client: consulClientFor(ctx.env.consul, ctx.processEnv), env: ctx.env.name }) : null),
};

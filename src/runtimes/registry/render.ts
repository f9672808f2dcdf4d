// Consul agent registrations of VM instances: one per (service, port) of each instance, with a TTL check
// that amphi's health reporter on the host keeps passing. Pods are not registered here: their IPs come from
// the clusters, not from the config, so the pod sync (src/pod-sync) keeps them in Consul from what it reads.
import { CONSUL_TAG, type AppModel, type EnvironmentModel, type HostInstance, type PortModel, type Registration, type ServiceModel } from "../../model/index.js";
import type { RenderHook } from "../types.js";

/** The registry render hook: the registrations of every host instance (none when Consul is off). */
export const renderRegistry: RenderHook<"consul"> = ({ env, hosts }) =>
  hosts.flatMap(({ target, instances }) =>
    instances.flatMap(({ app, instance }) =>
      registrations(app, env, instance).map((registration) => ({
        runtime: "consul" as const,
        key: consulKey(registration.service, registration.id),
        app: app.name,
        target,
        registration,
      })),
    ),
  );

/** The Consul service ID of one port of one instance: `<app>-<host>-<port>` (unique per host, because ports are). */
export function registrationId(app: string, host: string, port: number): string {
  return `${app}-${host}-${port}`;
}

/** The resource key of a registration: `consul/<service>/<id>`. */
export function consulKey(service: string, id: string): string {
  return `consul/${service}/${id}`;
}

/** What an app registers, in spec order: every port of every service.
 * Why per port and not one per service: a Consul registration carries one port, and a service with an
 * HTTP and a gRPC port must be reachable on both; the proxy picks endpoints by service and port. */
export function registeredPorts(app: AppModel): { service: ServiceModel; port: PortModel }[] {
  return app.services.flatMap((service) => service.ports.map((port) => ({ service, port })));
}

/** The registrations of one host instance, in spec order. */
function registrations(app: AppModel, env: EnvironmentModel, instance: HostInstance): Registration[] {
  if (!env.consul.enabled) return [];
  return registeredPorts(app).map(({ service, port }) => registration(env, instance, service, port.targetPort));
}

function registration(env: EnvironmentModel, instance: HostInstance, service: ServiceModel, port: number): Registration {
  const id = registrationId(instance.app, instance.host, port);
  return {
    id,
    service: service.name,
    app: instance.app,
    env: env.name,
    host: instance.host,
    address: instance.address,
    port,
    tags: [CONSUL_TAG, `env:${env.name}`, `app:${instance.app}`, `version:${instance.version}`],
    meta: {
      "amphi-app": instance.app,
      "amphi-env": env.name,
      "amphi-host": instance.host,
      "amphi-version": instance.version,
      "amphi-spec-hash": instance.specHash,
    },
    check: {
      // Consul's own name for a service's single check, so `consul catalog` output reads naturally.
      checkId: `service:${id}`,
      ttl: env.consul.checkTTL,
      // Why: an instance whose host vanished must leave the registry by itself, or DNS keeps answering for it.
      deregisterCriticalServiceAfter: env.consul.deregisterCriticalAfter,
      notes: checkNotes(instance, service),
    },
  };
}

// The service's own health check when it has one, else the instance's (the app's first).
function checkNotes(instance: HostInstance, service: ServiceModel): string {
  const check = service.healthCheck ?? instance.health;
  if (!check) return "TTL kept passing by amphi's health reporter while the process runs (no health check in spec)";
  return `TTL kept passing by amphi's health reporter while GET http://${instance.address}:${check.port}${check.path} succeeds`;
}

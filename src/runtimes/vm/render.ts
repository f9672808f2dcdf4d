// The vm resources: one per app instance on a host, as render expands the host-group placements.
import type { RenderHook } from "../types.js";

/** The resource key of a host instance: `vm/<hostGroup>/<host>/<app>`. */
export function vmKey(hostGroup: string, host: string, app: string): string {
  return `vm/${hostGroup}/${host}/${app}`;
}

/** The vm render hook: every host instance as it is. */
export const renderVm: RenderHook<"vm"> = ({ hosts }) =>
  hosts.flatMap(({ target, instances }) =>
    instances.map(({ app, instance }) => ({ runtime: "vm" as const, key: vmKey(instance.hostGroup, instance.host, app.name), app: app.name, target, instance })),
  );

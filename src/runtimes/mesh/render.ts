// The environment's traffic policies (`spec.traffic`) as mesh resources: one per service, owned by the app that
// declares the service (validation has checked that such an app is placed in the environment).
import type { RenderHook } from "../types.js";
import { MESH_TARGET, meshKey } from "./resource.js";

/** The mesh render hook: one resource per service with a traffic policy. */
export const renderMesh: RenderHook<"mesh"> = ({ env, clusters, hosts }) => {
  const appOf = new Map<string, string>();
  const apps = [...clusters.map((c) => c.app), ...hosts.flatMap((h) => h.instances.map((i) => i.app))];
  for (const app of apps) for (const s of app.services) if (!appOf.has(s.name)) appOf.set(s.name, app.name);
  return env.traffic.flatMap((policy) => {
    const app = appOf.get(policy.service);
    return app ? [{ runtime: "mesh" as const, key: meshKey(policy.service), app, target: MESH_TARGET, policy }] : [];
  });
};

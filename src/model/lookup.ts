// Lookups on a loaded model that render and the runtimes share: apps by name (failing loudly), an app's
// listening ports and first health check, and the target name of a host.
import type { AppModel, Model, PortModel } from "./spec.js";

/** Indexes apps by name once per render (a lookup per placement would be quadratic in the repo size). */
export function appIndex(model: Model): Map<string, AppModel> {
  return new Map(model.apps.map((a) => [a.name, a]));
}

/** Finds an app by name; a placement naming an unknown app is a loader bug, so this throws. */
export function findApp(apps: Map<string, AppModel>, appName: string): AppModel {
  const app = apps.get(appName);
  if (!app) throw new Error(`placement names unknown app "${appName}"`);
  return app;
}

/** Every listening port of an app (all its services' ports), sorted by port number.
 * Two services of one app on the same port cannot both listen, so that throws. */
export function appPorts(app: AppModel): PortModel[] {
  const seen = new Map<number, string>();
  const ports: PortModel[] = [];
  for (const service of app.services) {
    for (const port of service.ports) {
      const other = seen.get(port.targetPort);
      if (other !== undefined) {
        throw new Error(`app ${app.name}: port ${port.targetPort} is used by services ${other} and ${service.name}`);
      }
      seen.set(port.targetPort, service.name);
      ports.push(port);
    }
  }
  return ports.sort((a, b) => a.targetPort - b.targetPort);
}

/** The app's first health check (services in spec order), with the service it belongs to. */
export function firstHealthCheck(app: AppModel) {
  for (const service of app.services) {
    if (service.healthCheck) return { service: service.name, check: service.healthCheck };
  }
  return null;
}

/** The target of everything on one host: `<hostGroup>/<host>`. */
export function hostTarget(hostGroup: string, host: string): string {
  return `${hostGroup}/${host}`;
}

/** The host group of a host target (`<hostGroup>/<host>`). */
export function hostGroupOf(target: string): string {
  return target.split("/")[0]!;
}

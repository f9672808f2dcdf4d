// A validated app spec → AppModel with every default applied, plus the pieces placements reuse
// (env vars and packages are normalized the same way in apps, overrides and the sidecar).
import { canonicalJson, sha256Hex, type AppModel, type ContainerModel, type EnvVarModel, type PackageModel, type PackageSource, type ResourcesModel, type ServiceModel } from "../model/index.js";
import type { FileLocator } from "./problems.js";
import type { RawApp, RawContainer, RawEnvVar, RawPackage, RawResources, RawService } from "./raw.js";

/** Defaults of an app spec, as documented in schemas/application.schema.json. */
export const APP_DEFAULTS = { replicas: 1, intervalSeconds: 10, timeoutSeconds: 2 } as const;

/** Normalizes one validated app spec. `name` is metadata.name or the folder name. */
export function normalizeApp(raw: RawApp, name: string, loc: FileLocator): AppModel {
  const spec = raw.spec;
  const app: Omit<AppModel, "specHash"> = {
    name,
    file: loc.file,
    services: spec.services.map(normalizeService),
    container: spec.container ? normalizeContainer(spec.container, "/spec/container", loc) : null,
    package: spec.package ? normalizePackage(spec.package, "/spec/package", loc) : null,
    dependsOn: spec.dependsOn ?? [],
  };
  return { ...app, specHash: specHash(app) };
}

function normalizeService(s: RawService): ServiceModel {
  const ports = s.ports.map((p) => ({ name: p.name ?? `${p.protocol}-${p.targetPort}`, targetPort: p.targetPort, protocol: p.protocol }));
  const hc = s.healthCheck;
  return {
    name: s.name,
    ports,
    healthCheck: hc
      ? {
          path: hc.path,
          port: hc.port ?? ports[0]!.targetPort,
          intervalSeconds: hc.intervalSeconds ?? APP_DEFAULTS.intervalSeconds,
          timeoutSeconds: hc.timeoutSeconds ?? APP_DEFAULTS.timeoutSeconds,
        }
      : null,
  };
}

/** Normalizes a container spec; `pointer` locates it for number-as-written lookups. */
export function normalizeContainer(c: RawContainer, pointer: string, loc: FileLocator): ContainerModel {
  return {
    image: c.image,
    replicas: c.replicas ?? APP_DEFAULTS.replicas,
    command: c.command ?? null,
    args: c.args ?? null,
    env: normalizeEnv(c.env, `${pointer}/env`, loc),
    resources: c.resources ? normalizeResources(c.resources, `${pointer}/resources`, loc) : null,
    ...(c.version !== undefined ? { version: asWritten(c.version, `${pointer}/version`, loc) } : {}),
  };
}

/** Normalizes resource quantities (numbers such as `cpu: 1` become strings as written). */
export function normalizeResources(r: RawResources, pointer: string, loc: FileLocator): ResourcesModel {
  const out: ResourcesModel = {};
  for (const part of ["requests", "limits"] as const) {
    const q = r[part];
    if (!q) continue;
    out[part] = {};
    if (q.cpu !== undefined) out[part].cpu = asWritten(q.cpu, `${pointer}/${part}/cpu`, loc);
    if (q.memory !== undefined) out[part].memory = q.memory;
  }
  return out;
}

/** Normalizes env vars; `secret` defaults to false, numbers keep their written form. A secret without a value
 * comes from the environment's secrets file (`fromFile`; its value is filled in per environment). */
export function normalizeEnv(env: RawEnvVar[] | undefined, pointer: string, loc: FileLocator): EnvVarModel[] {
  return (env ?? []).map((v, i) => {
    if (v.value === undefined) return { name: v.name, value: "", secret: true, fromFile: true };
    return { name: v.name, value: asWritten(v.value, `${pointer}/${i}/value`, loc), secret: v.secret ?? false };
  });
}

/** Normalizes a complete package (the schema guarantees version, sha256, start and one source). */
export function normalizePackage(p: RawPackage, pointer: string, loc: FileLocator): PackageModel {
  return {
    version: asWritten(p.version!, `${pointer}/version`, loc),
    source: packageSource(p)!,
    sha256: p.sha256!.toLowerCase(),
    start: p.start!,
    user: p.user ?? null,
    env: normalizeEnv(p.env, `${pointer}/env`, loc),
  };
}

/** The source a package (or package override) names, or null when it names none. */
export function packageSource(p: RawPackage): PackageSource | null {
  if (p.path !== undefined) return { path: p.path };
  if (p.url !== undefined) return { url: p.url };
  return null;
}

/** A value that must end up a string: YAML numbers become the text they were written as
 * (`version: 1.10` is "1.10", not "1.1"). */
export function asWritten(value: string | number, pointer: string, loc: FileLocator): string {
  if (typeof value === "string") return value;
  return loc.positions.plainText(pointer) ?? String(value);
}

/** Overlays env vars: a variable of `over` replaces the one with the same name in place; new ones are appended. */
export function mergeEnv(base: EnvVarModel[], over: EnvVarModel[]): EnvVarModel[] {
  const out = base.map((v) => ({ ...v }));
  for (const v of over) {
    const i = out.findIndex((b) => b.name === v.name);
    if (i >= 0) out[i] = { ...v };
    else out.push({ ...v });
  }
  return out;
}

/** sha256 (hex) of the canonical JSON of the normalized app, without its file path (moving a folder
 * while keeping `metadata.name` changes nothing that is deployed). */
export function specHash(app: Omit<AppModel, "specHash">): string {
  const { file: _file, ...rest } = app;
  return sha256Hex(canonicalJson(rest));
}

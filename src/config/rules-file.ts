// Rules that need only one file, beyond what a JSON Schema can say: unique ports and names,
// health-check ports, safe package paths, absolute base dirs.
import type { Problem } from "../model/index.js";
import { asWritten } from "./normalize-app.js";
import { ENV_DEFAULTS } from "./normalize-env.js";
import { SAFE_VERSION, versionMessage } from "./patterns.js";
import type { FileLocator } from "./problems.js";
import type { RawApp, RawEnvVar, RawEnvironment, RawService } from "./raw.js";

/** Checks one validated app spec. `name` is the app's resolved name. */
export function checkAppFile(raw: RawApp, name: string, loc: FileLocator): Problem[] {
  const out: Problem[] = [];
  const spec = raw.spec;
  out.push(...checkPorts(spec.services, loc));
  spec.services.forEach((s, i) => out.push(...checkHealthPort(s, `/spec/services/${i}`, loc)));
  (spec.dependsOn ?? []).forEach((dep, i) => {
    if (dep === name) out.push(loc.problem(`/spec/dependsOn/${i}`, `app "${name}" depends on itself`));
  });
  out.push(...checkEnvNames(spec.container?.env, "/spec/container/env", loc));
  out.push(...checkEnvNames(spec.package?.env, "/spec/package/env", loc));
  if (spec.package?.path !== undefined) out.push(...checkPackagePath(spec.package.path, "/spec/package/path", loc));
  out.push(...checkVersion(spec.package?.version, "/spec/package/version", loc));
  out.push(...checkVersion(spec.container?.version, "/spec/container/version", loc));
  return out;
}

/** A version written as a number is checked as written (`-1`, `.5`); the schema checks strings. Both end up in
 * a release directory name on the hosts. */
function checkVersion(version: string | number | undefined, ptr: string, loc: FileLocator): Problem[] {
  if (version === undefined) return [];
  const text = asWritten(version, ptr, loc);
  if (SAFE_VERSION.test(text)) return [];
  const { message, hint } = versionMessage(text);
  return [loc.problem(ptr, message, { hint })];
}

/** Why: a baseDir with `..` is not the directory it reads as, and every path amphi builds on the hosts starts there. */
function checkBaseDir(baseDir: string | undefined, ptr: string, loc: FileLocator): Problem[] {
  if (baseDir === undefined || !baseDir.split("/").includes("..")) return [];
  return [loc.problem(ptr, `baseDir "${baseDir}" contains ".."`, { hint: "write the directory itself, e.g. /opt/amphi" })];
}

/** Port numbers are unique within an app; port names within a service. */
function checkPorts(services: RawService[], loc: FileLocator): Problem[] {
  const out: Problem[] = [];
  const numbers = new Map<number, string>();
  services.forEach((s, i) => {
    const names = new Set<string>();
    s.ports.forEach((p, j) => {
      const ptr = `/spec/services/${i}/ports/${j}`;
      const owner = numbers.get(p.targetPort);
      if (owner !== undefined) out.push(loc.problem(`${ptr}/targetPort`, `port ${p.targetPort} is already used by service "${owner}" of this app`));
      else numbers.set(p.targetPort, s.name);
      const portName = p.name ?? `${p.protocol}-${p.targetPort}`;
      if (names.has(portName)) out.push(loc.problem(p.name ? `${ptr}/name` : ptr, `port name "${portName}" is used twice in service "${s.name}"`));
      names.add(portName);
    });
  });
  return out;
}

function checkHealthPort(s: RawService, ptr: string, loc: FileLocator): Problem[] {
  const port = s.healthCheck?.port;
  if (port === undefined || s.ports.some((p) => p.targetPort === port)) return [];
  const ports = s.ports.map((p) => p.targetPort).join(", ");
  return [loc.problem(`${ptr}/healthCheck/port`, `port ${port} is not a port of service "${s.name}"`, { hint: `its ports: ${ports}` })];
}

/** Env var names are unique within one list; a secret written in plain text gets a warning. */
export function checkEnvNames(env: RawEnvVar[] | undefined, ptr: string, loc: FileLocator): Problem[] {
  const seen = new Map<string, number>();
  const out: Problem[] = [];
  (env ?? []).forEach((v, i) => {
    const first = seen.get(v.name);
    if (first !== undefined) out.push(loc.problem(`${ptr}/${i}/name`, `env var "${v.name}" is set twice`, { hint: `first at ${ptr}/${first}` }));
    else seen.set(v.name, i);
    // Why a warning, not an error: configs written before the secrets file keep deploying (the value still
    // reaches pods only through a Secret and hosts only through a mode-600 env file), but Git has it in clear.
    if (v.secret === true && v.value !== undefined) {
      const hint = "leave out value and put it in the environment's encrypted file: amphi secret set ENV APP/" + v.name;
      out.push(loc.warning(`${ptr}/${i}/value`, `secret "${v.name}" is written in plain text in Git`, { hint }));
    }
  });
  return out;
}

/** Whether `path` is a plain repo-relative path: no absolute path, no `.`/`..`/empty segment, no `\`. */
export function isPlainRepoPath(path: string): boolean {
  return !path.includes("\\") && !/^[A-Za-z]:/.test(path) && path.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

/** A package path must be a plain path inside the config repo: what is deployed is what was reviewed. */
export function checkPackagePath(path: string, ptr: string, loc: FileLocator): Problem[] {
  const segments = path.split("/");
  const example = "e.g. packages/app-1.0.tar.gz";
  if (path.includes("\\")) return [loc.problem(ptr, `package path "${path}" contains "\\"`, { hint: `separate directories with "/", ${example}` })];
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
    return [loc.problem(ptr, `package path "${path}" is absolute`, { hint: `write it relative to the repo root, ${example}; use url for files elsewhere` })];
  }
  if (segments.includes("..")) {
    return [loc.problem(ptr, `package path "${path}" leaves the repo ("..")`, { hint: `packages must be files inside the config repo; use url for files elsewhere` })];
  }
  if (segments.some((s) => s === "." || s === "")) {
    return [loc.problem(ptr, `package path "${path}" is not a plain repo-relative path`, { hint: `${example}, without "./", "//" or a trailing "/"` })];
  }
  return [];
}

/** Checks one validated environment file: unique names of clusters, host groups and hosts, base dirs,
 * env vars and package paths of overrides. Placements are checked with the apps, in placements.ts. */
export function checkEnvironmentFile(raw: RawEnvironment, loc: FileLocator): Problem[] {
  const s = raw.spec;
  const out: Problem[] = [];
  out.push(...uniqueNames((s.clusters ?? []).map((c, i) => [c.name, `/spec/clusters/${i}/name`]), "cluster", loc));
  out.push(...uniqueNames((s.hostGroups ?? []).map((g, i) => [g.name, `/spec/hostGroups/${i}/name`]), "host group", loc));
  const hosts = (s.hostGroups ?? []).flatMap((g, i) => g.hosts.map((h, j): [string, string] => [h.name, `/spec/hostGroups/${i}/hosts/${j}/name`]));
  out.push(...uniqueNames(hosts, "host", loc));
  (s.hostGroups ?? []).forEach((g, i) => {
    out.push(...checkBaseDir(g.baseDir, `/spec/hostGroups/${i}/baseDir`, loc));
    g.hosts.forEach((h, j) => out.push(...checkBaseDir(h.baseDir, `/spec/hostGroups/${i}/hosts/${j}/baseDir`, loc)));
    if ((g.transport ?? "ssh") !== "ssh") return;
    if (g.baseDir !== undefined && !g.baseDir.startsWith("/")) {
      out.push(loc.problem(`/spec/hostGroups/${i}/baseDir`, `baseDir "${g.baseDir}" must be an absolute path for transport ssh`));
    }
    g.hosts.forEach((h, j) => {
      if (h.baseDir !== undefined && !h.baseDir.startsWith("/")) {
        out.push(loc.problem(`/spec/hostGroups/${i}/hosts/${j}/baseDir`, `baseDir "${h.baseDir}" must be an absolute path for transport ssh`));
      }
    });
  });
  out.push(...checkMeshPorts(s.mesh, loc));
  out.push(...checkVmSidecar(s, loc));
  out.push(...checkPodControlPlane(s, loc));
  const sidecarPath = s.mesh.sidecar.package?.path;
  if (sidecarPath !== undefined) out.push(...checkPackagePath(sidecarPath, "/spec/mesh/sidecar/package/path", loc));
  out.push(...checkVersion(s.mesh.sidecar.package?.version, "/spec/mesh/sidecar/package/version", loc));
  (s.placements ?? []).forEach((p, i) => {
    const ptr = `/spec/placements/${i}/overrides`;
    out.push(...checkEnvNames(p.overrides?.env, `${ptr}/env`, loc));
    const path = p.overrides?.package?.path;
    if (path !== undefined) out.push(...checkPackagePath(path, `${ptr}/package/path`, loc));
    out.push(...checkVersion(p.overrides?.package?.version, `${ptr}/package/version`, loc));
    out.push(...checkVersion(p.overrides?.version, `${ptr}/version`, loc));
  });
  return out;
}

/** The VM sidecar (issue 12): Envoy from `package` or `binary`, not both; a package's `start` is the executable's
 * path inside the archive; the control plane's port is a port. With capture on and apps placed on host groups,
 * both a VM sidecar and `mesh.controlPlane` are needed: capture sends the apps' traffic to the sidecar, and a
 * sidecar without its control plane has no listeners. */
function checkVmSidecar(s: RawEnvironment["spec"], loc: FileLocator): Problem[] {
  const out: Problem[] = [];
  const sc = s.mesh.sidecar;
  if (sc.package !== undefined && sc.binary !== undefined) {
    out.push(loc.problem("/spec/mesh/sidecar/binary", "give the VM sidecar as package or binary, not both", { hint: "remove spec.mesh.sidecar.package or spec.mesh.sidecar.binary" }));
  }
  if (sc.package !== undefined && !/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._+/-]+$/.test(sc.package.start ?? "")) {
    out.push(loc.problem("/spec/mesh/sidecar/package/start", `${JSON.stringify(sc.package.start)} is not a path inside the package`, { hint: "for the sidecar, start is the path of the Envoy executable inside the archive, e.g. envoy or bin/envoy" }));
  }
  const cp = s.mesh.controlPlane?.address;
  if (cp !== undefined) {
    const port = Number(cp.slice(cp.lastIndexOf(":") + 1));
    if (port < 1 || port > 65535) out.push(loc.problem("/spec/mesh/controlPlane/address", `port ${port} of ${JSON.stringify(cp)} is not a port (1–65535)`));
  }
  const onHosts = (s.placements ?? []).findIndex((p) => p.hostGroup !== undefined);
  if (s.mesh.capture === false || onHosts < 0) return out;
  const why = `capture is on and apps are placed on host groups (/spec/placements/${onHosts})`;
  if (sc.package === undefined && sc.binary === undefined) {
    out.push(loc.problem("/spec/mesh/sidecar", `${why}, but spec.mesh.sidecar has no VM sidecar: nothing would listen on the captured ports`, { hint: "set spec.mesh.sidecar.binary (e.g. /usr/local/bin/envoy) or spec.mesh.sidecar.package, or set spec.mesh.capture: false" }));
  }
  // with a placement on a cluster too, checkPodControlPlane already says so (one problem, not two)
  if (cp === undefined && !(s.placements ?? []).some((p) => p.cluster !== undefined)) {
    out.push(loc.problem("/spec/mesh", `${why}, but spec.mesh.controlPlane is not set: the VM sidecars would have no configuration`, { hint: "set spec.mesh.controlPlane.address: host:port of amphi xds as the hosts reach it" }));
  }
  return out;
}

/** With capture on, a pod's traffic goes to its Envoy sidecar, which only the control plane configures (listeners,
 * routes, DNS): without `mesh.controlPlane` every captured call of a pod would fail. Capture off keeps pods
 * starting with the pass-through bootstrap. Reported at the first placement onto a cluster. */
function checkPodControlPlane(s: RawEnvironment["spec"], loc: FileLocator): Problem[] {
  if (s.mesh.capture === false || s.mesh.controlPlane) return [];
  const i = (s.placements ?? []).findIndex((p) => p.cluster !== undefined);
  if (i < 0) return [];
  return [
    loc.problem(`/spec/placements/${i}/cluster`, `capture is on and apps are placed on clusters, but spec.mesh.controlPlane is not set: the pods' Envoy sidecars would get no configuration and every captured call would fail`, {
      hint: "set spec.mesh.controlPlane.address (host:port of amphi's xDS listener, reachable from pods), or spec.mesh.capture: false",
    }),
  ];
}

/** With capture on, the sidecar's two ports and mesh DNS's port must differ. A clash is reported at a
 * port written in the file (a defaulted one has no line to point at). */
function checkMeshPorts(mesh: RawEnvironment["spec"]["mesh"], loc: FileLocator): Problem[] {
  if (mesh.capture === false) return [];
  const keys = ["outboundPort", "inboundPort", "dnsPort"] as const;
  const ordered = [...keys.filter((k) => mesh[k] === undefined), ...keys.filter((k) => mesh[k] !== undefined)];
  const seen = new Map<number, string>();
  const out: Problem[] = [];
  for (const key of ordered) {
    const port = mesh[key] ?? ENV_DEFAULTS[key];
    const other = seen.get(port);
    if (other) out.push(loc.problem(`/spec/mesh/${key}`, `port ${port} is also the mesh ${other}`, { hint: "the sidecar and mesh DNS need three different ports" }));
    else seen.set(port, key);
  }
  return out;
}

function uniqueNames(entries: [string, string][], what: string, loc: FileLocator): Problem[] {
  const seen = new Map<string, string>();
  const out: Problem[] = [];
  for (const [name, ptr] of entries) {
    const first = seen.get(name);
    if (first !== undefined) out.push(loc.problem(ptr, `duplicate ${what} name "${name}"`, { hint: `first at ${first}` }));
    else seen.set(name, ptr);
  }
  return out;
}

// Rules across files: unique app, environment and service names, dependsOn references and cycles,
// package files that exist in the repo.
import { RepoFileError, type AppModel, type Problem } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import type { FileLocator } from "./problems.js";
import { didYouMean } from "./suggest.js";

/** A named document: where its name comes from (metadata.name, or the file/folder name at pointer ""). */
export interface NamedDoc {
  name: string;
  loc: FileLocator;
  pointer: string;
}

/** The first document of each name wins; every later one gets an error naming the first file.
 * `docs` must be in a stable order (by file path). */
export function checkUniqueNames(docs: NamedDoc[], what: string): Problem[] {
  const first = new Map<string, NamedDoc>();
  const out: Problem[] = [];
  for (const d of docs) {
    const prev = first.get(d.name);
    if (prev) out.push(d.loc.problem(d.pointer, `${what} "${d.name}" is also defined in ${prev.loc.file}`, { hint: `${what} names must be unique` }));
    else first.set(d.name, d);
  }
  return out;
}

/** Service names are registry and DNS names: unique across all apps (apps in name order). */
export function checkUniqueServices(apps: AppModel[], locs: Map<string, FileLocator>): Problem[] {
  const owner = new Map<string, string>();
  const out: Problem[] = [];
  for (const app of apps) {
    app.services.forEach((s, i) => {
      const prev = owner.get(s.name);
      if (prev === undefined) owner.set(s.name, app.name);
      else {
        const where = prev === app.name ? "this app" : `app "${prev}"`;
        out.push(locs.get(app.name)!.problem(`/spec/services/${i}/name`, `service "${s.name}" is also defined by ${where}`, { hint: "service names are registry and DNS names: unique across all apps" }));
      }
    });
  }
  return out;
}

/** dependsOn names existing apps (any app seen, even one whose file has errors) and forms no cycle. */
export function checkDependencies(apps: AppModel[], names: Set<string>, locs: Map<string, FileLocator>): Problem[] {
  const out: Problem[] = [];
  for (const app of apps) {
    app.dependsOn.forEach((dep, i) => {
      if (!names.has(dep)) {
        const hint = didYouMean(dep, names) ?? `apps: ${[...names].sort().join(", ")}`;
        out.push(locs.get(app.name)!.problem(`/spec/dependsOn/${i}`, `depends on unknown app "${dep}"`, { hint }));
      }
    });
  }
  for (const cycle of findCycles(apps)) {
    const [head, next] = cycle as [string, string];
    const app = apps.find((a) => a.name === head)!;
    const i = app.dependsOn.indexOf(next);
    out.push(locs.get(head)!.problem(`/spec/dependsOn/${i}`, `dependency cycle: ${cycle.join(" → ")}`, { hint: "dependsOn must form a DAG" }));
  }
  return out;
}

/** Every dependency cycle found by a depth-first walk (self-dependencies are reported elsewhere),
 * each once, rotated to start at its smallest name: `["a", "b", "a"]`. */
export function findCycles(apps: AppModel[]): string[][] {
  const deps = new Map(apps.map((a) => [a.name, a.dependsOn.filter((d) => d !== a.name)]));
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (name: string): void => {
    state.set(name, "active");
    stack.push(name);
    for (const dep of deps.get(name) ?? []) {
      if (state.get(dep) === "active") {
        const cycle = rotate(stack.slice(stack.indexOf(dep)));
        found.set(cycle.join("\u0000"), [...cycle, cycle[0]!]);
      } else if (!state.has(dep) && deps.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const a of [...deps.keys()].sort()) if (!state.has(a)) visit(a);
  return [...found.values()].sort((x, y) => (x.join(" ") < y.join(" ") ? -1 : 1));
}

function rotate(cycle: string[]): string[] {
  let min = 0;
  cycle.forEach((n, i) => {
    if (n < cycle[min]!) min = i;
  });
  return [...cycle.slice(min), ...cycle.slice(0, min)];
}

/** A package path to look up in the source, and where it was written. */
export interface PathRef {
  path: string;
  loc: FileLocator;
  pointer: string;
}

/** Warns about package paths that name no file in the repo (a warning: the package may be added by CI
 * before apply; deploying then fails on the missing file with its own error). */
export async function checkPackageFiles(refs: PathRef[], source: ConfigSource): Promise<Problem[]> {
  const unique = [...new Set(refs.map((r) => r.path))];
  const exists = new Map(await Promise.all(unique.map(async (p) => [p, await existsOrRefused(source, p)] as const)));
  return refs.flatMap((r) => {
    const found = exists.get(r.path);
    if (found instanceof RepoFileError) {
      // An error, not a warning: such a package must never be read, let alone uploaded to hosts.
      return [r.loc.problem(r.pointer, `package file "${r.path}": ${found.reason}`, { hint: "amphi reads only files inside the repo" })];
    }
    return found ? [] : [r.loc.warning(r.pointer, `package file "${r.path}" does not exist in the config repo`)];
  });
}

async function existsOrRefused(source: ConfigSource, path: string): Promise<boolean | RepoFileError> {
  try {
    return await source.exists(path);
  } catch (e) {
    if (e instanceof RepoFileError) return e;
    throw e;
  }
}

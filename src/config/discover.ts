// Which files of the repo are config: `apps/<app>/spec.yaml` and `environments/<env>.yaml`.
// Misnamed files (`spec.yml`, `prod.yml`) are errors: silently skipping an app or environment would
// make a plan delete everything it runs.
import type { Problem } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { fileProblem } from "./problems.js";

/** A config file found in the repo; `stem` is the app folder or the environment file name. */
export interface FoundFile {
  file: string;
  stem: string;
}

/** The config files of a repo and the problems of its layout. */
export interface Discovered {
  apps: FoundFile[];
  environments: FoundFile[];
  /** `environments/<env>.secrets.yaml` files (SOPS), by environment file stem. */
  secrets: FoundFile[];
  problems: Problem[];
}

/** The name ending of an environment's secrets file: `environments/prod.secrets.yaml` holds prod's secrets. */
export const SECRETS_SUFFIX = ".secrets.yaml";

/** Lists the config files. Other files under apps/ and environments/ are ignored, except the
 * misnamed ones above; an app folder without spec.yaml is a warning. */
export async function discover(source: ConfigSource): Promise<Discovered> {
  const [appPaths, envPaths] = await Promise.all([source.list("apps"), source.list("environments")]);
  const problems: Problem[] = [];
  const apps = discoverApps(appPaths, problems);
  const environments = discoverEnvironments(envPaths.filter((p) => !p.endsWith(SECRETS_SUFFIX)), problems);
  const secrets = envPaths.filter((p) => p.endsWith(SECRETS_SUFFIX) && p.split("/").length === 2).map((file) => ({ file, stem: file.slice("environments/".length, -SECRETS_SUFFIX.length) }));
  if (appPaths.length === 0 && envPaths.length === 0) {
    const hint = "a config repo has apps/<app>/spec.yaml and environments/<env>.yaml; is this the right directory or revision?";
    problems.push(fileProblem(".", `no apps/ or environments/ files in ${source.description}`, { hint }));
  }
  return { apps, environments, secrets, problems };
}

function discoverApps(paths: string[], problems: Problem[]): FoundFile[] {
  const folders = new Map<string, Set<string>>();
  for (const path of paths) {
    const parts = path.split("/");
    if (parts.length < 3) continue; // files directly under apps/
    const files = folders.get(parts[1]!) ?? new Set<string>();
    if (parts.length === 3) files.add(parts[2]!);
    folders.set(parts[1]!, files);
  }
  const found: FoundFile[] = [];
  for (const [folder, files] of [...folders].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (files.has("spec.yaml")) found.push({ file: `apps/${folder}/spec.yaml`, stem: folder });
    else if (files.has("spec.yml")) problems.push(fileProblem(`apps/${folder}/spec.yml`, "amphi reads spec.yaml, not spec.yml", { hint: "rename the file to spec.yaml" }));
    else problems.push(fileProblem(`apps/${folder}`, "app folder has no spec.yaml; ignored", { severity: "warning" }));
  }
  return found;
}

function discoverEnvironments(paths: string[], problems: Problem[]): FoundFile[] {
  const found: FoundFile[] = [];
  for (const path of paths) {
    const parts = path.split("/");
    if (parts.length !== 2) continue;
    const name = parts[1]!;
    if (name.endsWith(".yaml")) found.push({ file: path, stem: name.slice(0, -".yaml".length) });
    else if (name.endsWith(".yml")) problems.push(fileProblem(path, "amphi reads environments/*.yaml, not .yml", { hint: `rename the file to ${name.slice(0, -4)}.yaml` }));
  }
  return found;
}

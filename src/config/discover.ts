// Which files of the repo are config: `apps/<app>/spec.yaml` and `environments/<env>.yaml`.
// Misnamed files (`spec.yml`, `prod.yml`) are errors: silently skipping an app or environment would
// make a plan delete everything it runs.
import { RepoFileError, type Problem } from "../model/index.js";
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

/** Lists the config files: `apps/<folder>/spec.yaml` of every app folder (whether it is there is known when it is
 * read: see absentAppProblems), and the environment files. Other files under apps/ and environments/ are ignored,
 * except the misnamed ones above. */
export async function discover(source: ConfigSource): Promise<Discovered> {
  const [appFolders, envPaths] = await Promise.all([source.folders("apps"), source.list("environments")]);
  const problems: Problem[] = [];
  const apps = appFolders.map((folder) => ({ file: `apps/${folder}/spec.yaml`, stem: folder }));
  const environments = discoverEnvironments(envPaths.filter((p) => !p.endsWith(SECRETS_SUFFIX)), problems);
  const secrets = envPaths.filter((p) => p.endsWith(SECRETS_SUFFIX) && p.split("/").length === 2).map((file) => ({ file, stem: file.slice("environments/".length, -SECRETS_SUFFIX.length) }));
  if (appFolders.length === 0 && envPaths.length === 0) {
    const hint = "a config repo has apps/<app>/spec.yaml and environments/<env>.yaml; is this the right directory or revision?";
    problems.push(fileProblem(".", `no apps/ or environments/ files in ${source.description}`, { hint }));
  }
  return { apps, environments, secrets, problems };
}

/** The problems of app folders whose spec.yaml is not there: a spec.yml is an error (skipping a misnamed app would
 * plan the deletion of everything it runs), anything else a warning (the folder is ignored). */
export async function absentAppProblems(source: ConfigSource, absent: FoundFile[]): Promise<Problem[]> {
  return Promise.all(
    absent.map(async ({ stem }) => {
      const yml = `apps/${stem}/spec.yml`;
      // A spec.yml that is a link leaving the repo is still a misnamed spec file.
      const misnamed = await source.exists(yml).catch((e: unknown) => (e instanceof RepoFileError ? true : Promise.reject(e)));
      if (misnamed) return fileProblem(yml, "amphi reads spec.yaml, not spec.yml", { hint: "rename the file to spec.yaml" });
      return fileProblem(`apps/${stem}`, "app folder has no spec.yaml; ignored", { severity: "warning" });
    }),
  );
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

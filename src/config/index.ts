// Config loading: a ConfigSource (directory or Git revision) → the validated, normalized Model.
// Every problem of every file is collected; any error throws one ConfigError carrying them all,
// warnings alone come back on `model.warnings`. Pure apart from reading through the source.
import { ConfigError, RepoFileError, type AppModel, type EnvironmentModel, type Model, type Problem } from "../model/index.js";
import type { ConfigSource } from "../ports/index.js";
import { SECRETS_SUFFIX, absentAppProblems, discover, type FoundFile } from "./discover.js";
import { sealSecrets, type SecretsText } from "./secrets.js";
import { loadAppFile, loadEnvironmentFile, type FileResult } from "./load-file.js";
import { resolvePlacements, type AppIndex } from "./placements.js";
import { fileProblem, sortProblems, type FileLocator } from "./problems.js";
import type { RawApp, RawEnvironment } from "./raw.js";
import { isPlainRepoPath } from "./rules-file.js";
import { checkSharedBaseDirs } from "./rules-hosts.js";
import { checkHostPorts } from "./rules-ports.js";
import { checkTcpPorts, checkTraffic } from "./rules-traffic.js";
import { checkDependencies, checkPackageFiles, checkUniqueNames, checkUniqueServices, type PathRef } from "./rules-repo.js";
import { didYouMean } from "./suggest.js";

type AppFile = FileResult<AppModel, RawApp>;
type EnvFile = FileResult<EnvironmentModel, RawEnvironment>;

/** Loads and validates the whole config repo. Throws ConfigError (with every problem) on any error.
 * `onDiscovered` hears how many app folders there are before any is read (the CLI sizes the heap by it). */
export async function loadModel(source: ConfigSource, opts: { onDiscovered?: (appFolders: number) => void } = {}): Promise<Model> {
  const revision = await source.revision();
  const found = await discover(source).catch((e: unknown) => {
    if (e instanceof RepoFileError) throw new ConfigError([repoFileProblem(e)]);
    throw e;
  });
  opts.onDiscovered?.(found.apps.length);
  const absentApps: FoundFile[] = [];
  const [appFiles, envFiles] = await Promise.all([
    readAll(source, found.apps, loadAppLean, (f) => absentApps.push(f)),
    readAll(source, found.environments, loadEnvironmentFile),
  ]);
  const problems: Problem[] = [...found.problems, ...(await absentAppProblems(source, absentApps)), ...appFiles.flatMap((f) => f.problems), ...envFiles.flatMap((f) => f.problems)];
  const apps = firstOfEachName(appFiles);
  const index: AppIndex = { names: new Set(appFiles.map((f) => f.name)), valid: new Map(apps.map((a) => [a.name, a])) };
  const appLocs = new Map(appFiles.filter((f) => f.model && index.valid.get(f.name) === f.model).map((f) => [f.name, f.loc!]));
  problems.push(...checkUniqueNames(named(appFiles), "app"), ...checkUniqueNames(named(envFiles), "environment"));
  problems.push(...checkUniqueServices(apps, appLocs), ...checkDependencies(apps, index.names, appLocs));
  const environments = firstOfEachName(envFiles);
  for (const f of envFiles) if (f.model && environments.includes(f.model)) problems.push(...placeApps(f, index));
  const secretTexts = await readSecrets(source, found.secrets);
  for (const f of envFiles) {
    if (f.model && environments.includes(f.model)) problems.push(...sealSecrets(f.model, secretTexts.get(f.file.replace(/\.yaml$/, SECRETS_SUFFIX)) ?? null));
  }
  problems.push(...checkSharedBaseDirs(envFiles.flatMap((f) => (f.model && environments.includes(f.model) ? [{ env: f.model, loc: f.loc! }] : []))));
  problems.push(...(await checkPackageFiles(packageRefs(appFiles, envFiles), source)));
  const sorted = sortProblems(problems);
  if (sorted.some((p) => p.severity === "error")) throw new ConfigError(sorted);
  return { source: source.description, revision, apps, environments, warnings: sorted };
}

/** An app file loaded, without its raw document: nothing after loading reads it (an app's package path is taken
 * from its model), and letting each go at once keeps it from outliving the young generation (at 10,000 apps GC
 * went from ~410 to ~330 ms of a load, peak RSS ~15 MiB lower). */
function loadAppLean(file: string, stem: string, text: string | null): AppFile {
  const f = loadAppFile(file, stem, text);
  f.raw = null;
  return f;
}

/** The environments' secrets files by path (read, not decrypted). */
async function readSecrets(source: ConfigSource, files: FoundFile[]): Promise<Map<string, SecretsText>> {
  const texts = await Promise.all(files.map((f) => source.read(f.file).catch((e: unknown) => (e instanceof RepoFileError ? e : Promise.reject(e)))));
  // A refused file (a symlink out of the repo, a loop) becomes a problem of that file, as for the other files.
  const text = (t: string | null | RepoFileError | undefined): SecretsText["text"] => (t instanceof RepoFileError ? null : (t ?? null));
  const refused = (t: unknown) => (t instanceof RepoFileError ? { refused: t.reason } : {});
  return new Map(files.map((f, i) => [f.file, { file: f.file, text: text(texts[i]), ...refused(texts[i]) }]));
}

/** Reads and loads each file; one that is not there goes to `absent` when given (an app folder's spec.yaml: listed
 * by its folder only), else it is loaded as missing. */
async function readAll<R extends { problems: Problem[] }>(
  source: ConfigSource,
  files: FoundFile[],
  load: (file: string, stem: string, text: string | null) => R,
  absent?: (f: FoundFile) => void,
): Promise<R[]> {
  const texts = await Promise.all(files.map((f) => source.read(f.file).catch((e: unknown) => (e instanceof RepoFileError ? e : Promise.reject(e)))));
  return files.flatMap((f, i) => {
    const text = texts[i];
    if (text === null && absent) {
      absent(f);
      return [];
    }
    if (!(text instanceof RepoFileError)) return [load(f.file, f.stem, text ?? null)];
    // A refused file (a symlink out of the repo, a loop) is loaded as empty-handed as a missing one, with its problem.
    const result = load(f.file, f.stem, null);
    result.problems.splice(0, result.problems.length, repoFileProblem(text));
    return [result];
  });
}

/** A refused repo file as a problem of that file. */
function repoFileProblem(e: RepoFileError): Problem {
  return fileProblem(e.file, e.reason, { hint: "amphi reads only files inside the repo" });
}

/** Valid models, the first file of each name only (later ones are reported), sorted by name. */
function firstOfEachName<M extends { name: string }>(files: FileResult<M, unknown>[]): M[] {
  const byName = new Map<string, M | null>();
  for (const f of files) if (!byName.has(f.name)) byName.set(f.name, f.model);
  return [...byName.values()].filter((m): m is M => m !== null).sort((a, b) => (a.name < b.name ? -1 : 1));
}

function named(files: FileResult<unknown, unknown>[]) {
  return files.flatMap((f) => (f.loc ? [{ name: f.name, loc: f.loc, pointer: f.namePointer }] : []));
}

/** Resolves one environment's placements into its model and checks them against the apps. */
function placeApps(f: EnvFile, index: AppIndex): Problem[] {
  const env = f.model!;
  const { placements, problems } = resolvePlacements(f.raw!, env, index, f.loc!);
  env.placements = placements;
  problems.push(...checkHostPorts(env, index.valid, f.loc!));
  problems.push(...checkTcpPorts(env, index.valid, f.loc!), ...checkTraffic(env, (f.raw!.spec.placements ?? []).map((p) => p.app), index, f.loc!));
  (f.raw!.spec.ignoreDifferences ?? []).forEach((rule, i) => {
    if (rule.app !== undefined && !index.names.has(rule.app)) {
      const hint = didYouMean(rule.app, index.names);
      problems.push(f.loc!.warning(`/spec/ignoreDifferences/${i}/app`, `ignore rule names unknown app "${rule.app}"`, { hint }));
    }
  });
  return problems;
}

/** Every package path written in a valid file, with where it was written. */
function packageRefs(appFiles: AppFile[], envFiles: EnvFile[]): PathRef[] {
  const refs: PathRef[] = [];
  const add = (path: string | undefined, loc: FileLocator, pointer: string) => {
    if (path !== undefined && isPlainRepoPath(path)) refs.push({ path, loc, pointer });
  };
  for (const f of appFiles) {
    const from = f.model?.package?.source;
    if (from && "path" in from) add(from.path, f.loc!, "/spec/package/path");
  }
  for (const f of envFiles) {
    if (!f.raw) continue;
    add(f.raw.spec.mesh.sidecar.package?.path, f.loc!, "/spec/mesh/sidecar/package/path");
    (f.raw.spec.placements ?? []).forEach((p, i) => add(p.overrides?.package?.path, f.loc!, `/spec/placements/${i}/overrides/package/path`));
  }
  return refs;
}

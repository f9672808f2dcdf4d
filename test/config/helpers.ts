// Shared pieces of the config tests: a small valid repo to break one file of, written to a temp dir
// and loaded through the real DirSource; problems come back formatted as `file:line:col /ptr: message`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirSource } from "../../src/adapters/fs/dir-source.js";
import { loadModel } from "../../src/config/index.js";
import { ConfigError, formatProblem, type Model } from "../../src/model/index.js";
import { writeFiles } from "../support/git-repo.js";

/** Strips the first newline and the common indentation, so YAML can be written indented in a test
 * and its line 1 is the line after the opening backtick. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings }, ...values).replace(/^\n/, "");
  const lines = text.split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

export const SHA_A = "a".repeat(64);
export const SHA_B = "b".repeat(64);

/** The app every case starts from. */
export const API_SPEC = yaml`
  apiVersion: v1
  kind: Application
  spec:
    services:
    - name: api
      ports:
      - targetPort: 8080
        protocol: http
      healthCheck:
        path: /health
    container:
      image: reg.example/api:1.0.0
    package:
      version: 1.0.0
      path: packages/api.tar.gz
      sha256: ${SHA_A}
      start: ./api
`;

/** A second app, VM-only. */
export const DB_SPEC = yaml`
  apiVersion: v1
  kind: Application
  spec:
    services:
    - name: db
      ports:
      - targetPort: 5432
        protocol: tcp
    package:
      version: "15"
      path: packages/db.tar.gz
      sha256: ${SHA_B}
      start: ./db
`;

/** The environment every case starts from: api on a cluster and on the VMs, db on the VMs. */
export const PROD_ENV = yaml`
  apiVersion: v1
  kind: Environment
  spec:
    mesh:
      serviceIP: 10.255.0.1
      sidecar: {image: envoy:1, binary: /usr/local/bin/envoy}
      controlPlane: {address: "amphi-xds.internal:18000"}
    clusters:
    - name: eu1
      context: eu1
    hostGroups:
    - name: vms
      hosts:
      - name: vm-1
        address: 10.0.0.1
      - name: vm-2
        address: 10.0.0.2
    placements:
    - app: api
      cluster: eu1
    - app: api
      hostGroup: vms
    - app: db
      hostGroup: vms
`;

/** The valid base repo: path → text. */
export const BASE_REPO: Record<string, string> = {
  "apps/api/spec.yaml": API_SPEC,
  "apps/db/spec.yaml": DB_SPEC,
  "environments/prod.yaml": PROD_ENV,
  "packages/api.tar.gz": "not really a tarball",
  "packages/db.tar.gz": "not really a tarball",
};

/** Writes `files` into a fresh temp dir, runs `fn` on it, removes the dir. */
export async function withDir<T>(files: Record<string, string | null>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `amphi-config-${process.pid}-`));
  try {
    writeFiles(dir, files);
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads the base repo changed by `files` (null deletes a file); returns the model or the ConfigError. */
export async function loadChanged(files: Record<string, string | null>): Promise<{ model: Model | null; error: ConfigError | null }> {
  return withDir({ ...BASE_REPO, ...files }, async (dir) => {
    try {
      return { model: await loadModel(new DirSource(dir)), error: null };
    } catch (e) {
      if (e instanceof ConfigError) return { model: null, error: e };
      throw e;
    }
  });
}

/** Every problem (errors and warnings, in file, line and column order) of the changed base repo, formatted. */
export async function problemsOf(files: Record<string, string | null>): Promise<string[]> {
  const { model, error } = await loadChanged(files);
  return (error ? error.problems : (model?.warnings ?? [])).map(formatProblem);
}

/** One row of a bad-input table: the changed files and every problem expected, formatted. */
export interface BadCase {
  name: string;
  files: Record<string, string | null>;
  expect: string[];
}

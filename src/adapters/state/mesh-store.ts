// Where an environment's applied mesh policy is kept (ports/mesh.ts): a JSON file `<state dir>/mesh/<env>.json`
// (file backend), or the Consul KV key `<prefix>/mesh/<env>` (`state.backend: consul`, shared by every replica).
// Watches: the file by inotify on its directory (plus a 1 s re-read, for filesystems without it); the key by
// Consul blocking queries.
// Next to it, what each control-plane replica knows of its proxies (ProxyStatusStore): one record per replica,
// `<state dir>/mesh/<env>.proxies/<replica>.json` or the keys under `<prefix>/mesh-proxies/<env>/`.
import { createHash } from "node:crypto";
import { watch as fsWatch, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, type FSWatcher } from "node:fs";
import { join, resolve } from "node:path";
import type { EnvironmentModel } from "../../model/index.js";
import type { AppliedMesh, MeshPolicyStore, MeshPolicyWatch, ProxyStatusRecord, ProxyStatusStore } from "../../ports/mesh.js";
import { ConsulError, consulClientFor, type ConsulClient } from "../consul/client.js";
import { nextIndex } from "../consul/watch.js";
import { consulPrefix } from "./consul-store.js";
import { sleep } from "./sleep.js";
import { mesh } from "../../runtimes/mesh/index.js";
import { isObj } from "../../runtimes/check.js";

/** The store of `env`'s applied mesh policy, by its `state` settings (`cwd`: what a relative `state.path` is under). */
export function meshPolicyStoreFor(env: EnvironmentModel, opts: { cwd: string; processEnv: NodeJS.ProcessEnv }): MeshPolicyStore {
  if (env.state.backend === "consul") return new ConsulMeshPolicyStore(consulClientFor(env.consul, opts.processEnv), consulPrefix(env.state.path), env.name);
  return new FileMeshPolicyStore(resolve(opts.cwd, env.state.path), env.name);
}

/** Checks what was read: an applied-policy record of `env`; throws naming `where` otherwise. */
export function parseApplied(text: string, env: string, where: string): AppliedMesh {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON: ${(e as Error).message}`);
  }
  const o = v as Partial<AppliedMesh> | null;
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(`${where}: not an applied mesh policy record (an object)`);
  if (o.env !== env) throw new Error(`${where}: records environment ${JSON.stringify(o.env)}, not ${env}`);
  if (!Array.isArray(o.policies)) throw new Error(`${where}: "policies" must be a list of traffic policies`);
  // each policy as an --actual file's mesh entry is checked: the fields the diff and plan read
  o.policies.forEach((p: unknown, i) => {
    if (!isObj(p)) throw new Error(`${where}: policies[${i}] must be a traffic policy (an object)`);
    mesh.actualFile.check(p, (path, ok, what) => {
      if (!ok) throw new Error(`${where}: policies[${i}].${path} must be ${what}`);
    });
  });
  if (o.revision !== null && typeof o.revision !== "string") throw new Error(`${where}: "revision" must be a string or null`);
  // apps name each service's app (its report row): a record without them would be written back without them
  if (!isObj(o.apps) || !Object.values(o.apps).every((a) => typeof a === "string")) throw new Error(`${where}: "apps" must be a map of service → app`);
  return { env, revision: o.revision ?? null, appliedAt: String(o.appliedAt ?? ""), policies: o.policies, apps: o.apps as Record<string, string> };
}

const hashOf = (a: AppliedMesh | null): string => createHash("sha256").update(JSON.stringify(a)).digest("hex");

/** The file backend: `<dir>/mesh/<env>.json`, replaced atomically (temp file + rename). */
export class FileMeshPolicyStore implements MeshPolicyStore {
  readonly file: string;

  constructor(
    readonly dir: string,
    private readonly env: string,
  ) {
    this.file = join(dir, "mesh", `${env}.json`);
  }

  get description(): string {
    return this.file;
  }

  async read(): Promise<AppliedMesh | null> {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`applied mesh policy ${this.file} is unreadable: ${(e as Error).message}`);
    }
    return parseApplied(text, this.env, `applied mesh policy ${this.file}`);
  }

  async write(applied: AppliedMesh): Promise<void> {
    mkdirSync(join(this.dir, "mesh"), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(applied, null, 2) + "\n");
    renameSync(tmp, this.file);
  }

  watch(onChange: (applied: AppliedMesh | null) => void, onError: (error: Error) => void): MeshPolicyWatch {
    let last: string | null = null;
    let stopped = false;
    const check = async (): Promise<void> => {
      if (stopped) return;
      try {
        const applied = await this.read();
        const h = hashOf(applied);
        if (h !== last && !stopped) {
          last = h;
          onChange(applied);
        }
      } catch (e) {
        onError(e as Error);
      }
    };
    let watcher: FSWatcher | null = null;
    try {
      mkdirSync(join(this.dir, "mesh"), { recursive: true });
      watcher = fsWatch(join(this.dir, "mesh"), (_event, name) => {
        if (name === null || name === `${this.env}.json`) void check();
      });
      watcher.on("error", (e) => onError(e));
    } catch (e) {
      onError(new Error(`cannot watch ${join(this.dir, "mesh")} (re-read every second instead): ${(e as Error).message}`));
    }
    const timer = setInterval(() => void check(), 1000);
    timer.unref();
    const ready = check();
    return {
      ready,
      stop: () => {
        stopped = true;
        clearInterval(timer);
        watcher?.close();
      },
    };
  }
}

/** The Consul KV backend: the key `<prefix>/mesh/<env>`, the record as its raw JSON value. */
export class ConsulMeshPolicyStore implements MeshPolicyStore {
  readonly key: string;

  constructor(
    private readonly client: ConsulClient,
    prefix: string,
    private readonly env: string,
  ) {
    this.key = `${prefix}/mesh/${env}`;
  }

  get description(): string {
    return `consul ${this.client.address} key ${this.key}`;
  }

  async read(signal?: AbortSignal): Promise<AppliedMesh | null> {
    return (await this.readIndexed(0, signal)).applied;
  }

  async write(applied: AppliedMesh, signal?: AbortSignal): Promise<void> {
    await this.client.put(`/v1/kv/${this.key}`, { body: applied, signal, query: dcQuery(this.client) });
  }

  /** Blocking queries on the key (index + wait); while the key does not exist, a re-read every 500 ms (Consul's
   * 404 carries no index to block on through the client). Errors back off (100 ms doubling to 10 s). */
  watch(onChange: (applied: AppliedMesh | null) => void, onError: (error: Error) => void): MeshPolicyWatch {
    const abort = new AbortController();
    let markReady!: () => void;
    const ready = new Promise<void>((r) => (markReady = r));
    const loop = async (): Promise<void> => {
      let index = 0;
      let last: string | null = null;
      let failures = 0;
      while (!abort.signal.aborted) {
        try {
          const r = await this.readIndexed(index, abort.signal);
          failures = 0;
          const h = hashOf(r.applied);
          if (h !== last && !abort.signal.aborted) {
            last = h;
            onChange(r.applied);
          }
          markReady();
          if (r.applied === null) {
            index = 0;
            await sleep(500, abort.signal);
          } else index = nextIndex(index, r.index);
        } catch (e) {
          if (abort.signal.aborted) break;
          failures++;
          onError(e as Error);
          await sleep(Math.min(10_000, 100 * 2 ** Math.min(failures - 1, 10)), abort.signal);
        }
      }
      markReady();
    };
    void loop();
    return { ready, stop: () => abort.abort() };
  }

  private async readIndexed(index: number, signal?: AbortSignal): Promise<{ applied: AppliedMesh | null; index: number }> {
    const dc = dcQuery(this.client);
    const query = index > 0 ? { ...dc, raw: "", index: String(index), wait: "60s" } : { ...dc, raw: "" };
    try {
      const r = await this.client.get<unknown>(`/v1/kv/${this.key}`, { query, signal, timeoutMs: index > 0 ? 80_000 : undefined });
      if (r.data === null) return { applied: null, index: r.index };
      return { applied: parseApplied(JSON.stringify(r.data), this.env, `applied mesh policy (${this.description})`), index: r.index };
    } catch (e) {
      if (e instanceof ConsulError && e.status === 404) return { applied: null, index: 0 };
      throw e;
    }
  }
}

/** Where `env`'s control-plane replicas publish their proxies, by its `state` settings (as meshPolicyStoreFor). */
export function proxyStatusStoreFor(env: EnvironmentModel, opts: { cwd: string; processEnv: NodeJS.ProcessEnv }): ProxyStatusStore {
  if (env.state.backend === "consul") return new ConsulProxyStatusStore(consulClientFor(env.consul, opts.processEnv), consulPrefix(env.state.path), env.name);
  return new FileProxyStatusStore(resolve(opts.cwd, env.state.path), env.name);
}

/** Checks a published proxy record of `env`; throws naming `where` otherwise. */
export function parseProxyRecord(v: unknown, env: string, where: string): ProxyStatusRecord {
  const o = v as Partial<ProxyStatusRecord> | null;
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new Error(`${where}: not a proxy status record (an object)`);
  if (o.env !== env) throw new Error(`${where}: records environment ${JSON.stringify(o.env)}, not ${env}`);
  if (typeof o.replica !== "string" || typeof o.heartbeatAt !== "string" || Number.isNaN(Date.parse(o.heartbeatAt))) {
    throw new Error(`${where}: "replica" must be a string and "heartbeatAt" an ISO time`);
  }
  const ok = (p: unknown): boolean => {
    const x = p as Record<string, unknown> | null;
    return typeof x === "object" && x !== null && typeof x["id"] === "string" && typeof x["connected"] === "boolean" && typeof x["since"] === "string" && typeof x["types"] === "object" && x["types"] !== null;
  };
  if (!Array.isArray(o.proxies) || !o.proxies.every(ok)) throw new Error(`${where}: "proxies" must be a list of {id, connected, since, types}`);
  return { env, replica: o.replica, heartbeatAt: o.heartbeatAt, proxies: o.proxies };
}

const replicaFile = (replica: string): string => `${replica.replace(/[^A-Za-z0-9._-]/g, "_")}.json`;

/** The file backend: one JSON file per replica in `<dir>/mesh/<env>.proxies/`, replaced atomically. */
export class FileProxyStatusStore implements ProxyStatusStore {
  readonly folder: string;

  constructor(dir: string, private readonly env: string) {
    this.folder = join(dir, "mesh", `${env}.proxies`);
  }

  get description(): string {
    return this.folder;
  }

  async publish(record: ProxyStatusRecord): Promise<void> {
    mkdirSync(this.folder, { recursive: true });
    const file = join(this.folder, replicaFile(record.replica));
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(record) + "\n");
    renameSync(tmp, file);
  }

  async withdraw(replica: string): Promise<void> {
    rmSync(join(this.folder, replicaFile(replica)), { force: true });
  }

  async readAll(_signal?: AbortSignal, skipped: (problem: string) => void = () => {}): Promise<ProxyStatusRecord[]> {
    let names: string[];
    try {
      names = readdirSync(this.folder).filter((n) => n.endsWith(".json")).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new Error(`proxy status ${this.folder} is unreadable: ${(e as Error).message}`);
    }
    const out: ProxyStatusRecord[] = [];
    for (const name of names) {
      const file = join(this.folder, name);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // withdrawn meanwhile
        throw new Error(`proxy status ${file} is unreadable: ${(e as Error).message}`);
      }
      const record = parseOrSkip(() => JSON.parse(text) as unknown, this.env, `proxy status ${file}`, skipped);
      if (record) out.push(record);
    }
    return out;
  }
}

/** The Consul KV backend: one key per replica under `<prefix>/mesh-proxies/<env>/`, read with `recurse`. */
export class ConsulProxyStatusStore implements ProxyStatusStore {
  readonly prefix: string;

  constructor(
    private readonly client: ConsulClient,
    prefix: string,
    private readonly env: string,
  ) {
    this.prefix = `${prefix}/mesh-proxies/${env}`;
  }

  get description(): string {
    return `consul ${this.client.address} keys ${this.prefix}/`;
  }

  private dc(): Record<string, string> {
    return dcQuery(this.client);
  }

  async publish(record: ProxyStatusRecord, signal?: AbortSignal): Promise<void> {
    await this.client.put(`/v1/kv/${this.prefix}/${encodeURIComponent(record.replica)}`, { body: record, signal, query: this.dc() });
  }

  async withdraw(replica: string, signal?: AbortSignal): Promise<void> {
    await this.client.send("DELETE", `/v1/kv/${this.prefix}/${encodeURIComponent(replica)}`, { signal, query: this.dc() });
  }

  async readAll(signal?: AbortSignal, skipped: (problem: string) => void = () => {}): Promise<ProxyStatusRecord[]> {
    let entries: { Key: string; Value: string | null }[];
    try {
      entries = (await this.client.get<{ Key: string; Value: string | null }[]>(`/v1/kv/${this.prefix}/`, { query: { ...this.dc(), recurse: "" }, signal })).data ?? [];
    } catch (e) {
      if (e instanceof ConsulError && e.status === 404) return [];
      throw e;
    }
    return entries.flatMap((entry) => {
      if (entry.Value === null) return [];
      const value = entry.Value;
      const record = parseOrSkip(() => JSON.parse(Buffer.from(value, "base64").toString("utf8")) as unknown, this.env, `proxy status (consul key ${entry.Key})`, skipped);
      return record ? [record] : [];
    });
  }
}

// One record, or null with the problem (naming `where`) told to `skipped`.
function parseOrSkip(parse: () => unknown, env: string, where: string, skipped: (problem: string) => void): ProxyStatusRecord | null {
  let v: unknown;
  try {
    v = parse();
  } catch (e) {
    skipped(`${where}: not JSON: ${(e as Error).message}`);
    return null;
  }
  try {
    return parseProxyRecord(v, env, where);
  } catch (e) {
    skipped((e as Error).message);
    return null;
  }
}

/** The `dc` query of every KV call, so writes and reads (and watches) go to the one configured datacenter. */
function dcQuery(client: ConsulClient): Record<string, string> {
  return client.datacenter ? { dc: client.datacenter } : {};
}

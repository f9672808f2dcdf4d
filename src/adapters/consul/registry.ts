// amphi's registrations in Consul: writes through the agent API (register, deregister, TTL check updates)
// and reads through the catalog and health endpoints (every amphi-tagged instance of an environment with
// its check status), turned back into the `Registration` shape render produces so the diff can pair them.
//
// Limitation: agent endpoints act on the agent that owns a service. amphi talks to the one agent at
// `consul.address` of an environment, so that agent owns every VM registration (and the hosts' health
// reporters must reach that same agent). Per-host agents would need a Consul address per host group.
import { CONSUL_TAG, compareStrings, forEachLimit, hostTarget, type ActualResource, type EnvironmentModel, type Registration } from "../../model/index.js";
import { consulKey } from "../../runtimes/registry/render.js";
import { ConsulError, consulClientFor, type ConsulClient } from "./client.js";
import { formatDuration, parseDuration } from "../../model/duration.js";

/** The status of a registration's check (the worst of its service-level checks). */
export type CheckStatus = "passing" | "warning" | "critical";

/** An amphi registration as read back from Consul, with its check status. */
export interface RegistryRecord {
  registration: Registration;
  check: CheckStatus;
  /** The check's last output (what the health reporter said), "" when none. */
  output: string;
}

// Consul's answer shapes (only the fields amphi reads).
/** A service as Consul shows it in health and catalog answers. */
export interface ServiceJson {
  ID: string;
  Service: string;
  Tags: string[] | null;
  Meta: Record<string, string> | null;
  Address: string;
  Port: number;
}
/** A check as Consul shows it. */
export interface CheckJson {
  CheckID: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
  Type?: string;
  Definition?: { TTL?: string; DeregisterCriticalServiceAfter?: string };
}
/** One entry of /v1/health/service/:name. */
export interface HealthEntryJson {
  Node: { Node: string; Address: string };
  Service: ServiceJson;
  Checks: CheckJson[];
}

/** Options of the calls that take a signal. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Registers one instance port on the agent with its TTL check. `replace-existing-checks` drops checks the
 * registration no longer has. A new TTL check starts critical until the health reporter passes it. */
export async function register(client: ConsulClient, reg: Registration, opts: CallOptions = {}): Promise<void> {
  await client.put("/v1/agent/service/register", {
    query: { "replace-existing-checks": "true" },
    body: {
      ID: reg.id,
      Name: reg.service,
      Address: reg.address,
      Port: reg.port,
      Tags: reg.tags,
      Meta: reg.meta,
      Check: {
        CheckID: reg.check.checkId,
        Name: `amphi health of ${reg.id}`,
        TTL: reg.check.ttl,
        DeregisterCriticalServiceAfter: reg.check.deregisterCriticalServiceAfter,
        Notes: reg.check.notes,
      },
    },
    signal: opts.signal,
  });
}

/** Deregisters a service ID from the agent; false when the agent did not have it. */
export async function deregister(client: ConsulClient, id: string, opts: CallOptions = {}): Promise<boolean> {
  try {
    await client.put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`, { signal: opts.signal });
    return true;
  } catch (e) {
    if (e instanceof ConsulError && e.status === 404) return false;
    throw e;
  }
}

/** Marks a TTL check passing, with a note (its output). */
export async function passCheck(client: ConsulClient, checkId: string, note: string, opts: CallOptions = {}): Promise<void> {
  await client.put(`/v1/agent/check/pass/${encodeURIComponent(checkId)}`, { query: { note }, signal: opts.signal });
}

/** Marks a TTL check critical, with a note. */
export async function failCheck(client: ConsulClient, checkId: string, note: string, opts: CallOptions = {}): Promise<void> {
  await client.put(`/v1/agent/check/fail/${encodeURIComponent(checkId)}`, { query: { note }, signal: opts.signal });
}

/** Durations as the environment spells them: a duration Consul reports (`1m0s`) that equals the
 * configured one (`1m`) reads back in the configured spelling, so an unchanged setting is no diff. */
export interface DurationSpelling {
  checkTTL: string;
  deregisterCriticalAfter: string;
}

/** Every amphi-tagged registration of environment `env` (tags `amphi` and `env:<env>`), sorted by service
 * then ID, without pod instances (those the pod sync keeps, see pods.ts: they are no VM registrations).
 * Throws ConsulError when Consul cannot be read or hides services from the token (ACLs). */
export async function services(client: ConsulClient, env: string, spelling: DurationSpelling, opts: CallOptions = {}): Promise<RegistryRecord[]> {
  const out = (await amphiEntries(client, env, opts)).filter((e) => !isPodEntry(e)).map((e) => recordOf(e, env, spelling));
  return out.sort((a, b) => compareStrings(a.registration.service, b.registration.service) || compareStrings(a.registration.id, b.registration.id));
}

/** Whether a health entry is a pod instance (meta `amphi-runtime: k8s`, written by the pod sync). */
export function isPodEntry(e: HealthEntryJson): boolean {
  return (e.Service.Meta ?? {})["amphi-runtime"] === "k8s";
}

/** The health entries of every service tagged `amphi` and `env:<env>` in the catalog, each instance tagged
 * so, in catalog order. Throws ConsulError like services(). */
export async function amphiEntries(client: ConsulClient, env: string, opts: CallOptions = {}): Promise<HealthEntryJson[]> {
  const dc = client.datacenter ? { dc: client.datacenter } : {};
  const catalog = await client.get<Record<string, string[] | null>>("/v1/catalog/services", { query: dc, signal: opts.signal });
  refuseFiltered(client, catalog.filtered);
  const names = Object.entries(catalog.data ?? {})
    .filter(([, tags]) => (tags ?? []).includes(CONSUL_TAG) && (tags ?? []).includes(`env:${env}`))
    .map(([name]) => name)
    .sort();
  const out: HealthEntryJson[] = [];
  await forEachLimit(names, 8, async (name) => {
    const health = await client.get<HealthEntryJson[]>(`/v1/health/service/${encodeURIComponent(name)}`, { query: { ...dc, tag: CONSUL_TAG }, signal: opts.signal });
    refuseFiltered(client, health.filtered);
    for (const entry of health.data ?? []) if ((entry.Service.Tags ?? []).includes(`env:${env}`)) out.push(entry);
  });
  return out;
}

/** A health entry as a Registration (the shape render produces) plus its check's status and output. */
export function recordOf(entry: HealthEntryJson, env: string, spelling: DurationSpelling): RegistryRecord {
  const s = entry.Service;
  const meta = s.Meta ?? {};
  const own = entry.Checks.filter((c) => c.ServiceID === s.ID);
  const check = own.find((c) => c.CheckID === `service:${s.ID}`) ?? own.find((c) => c.Type === "ttl") ?? own[0];
  return {
    registration: {
      id: s.ID,
      service: s.Service,
      app: meta["amphi-app"] ?? "",
      env: meta["amphi-env"] ?? env,
      host: meta["amphi-host"] ?? "",
      address: s.Address,
      port: s.Port,
      tags: s.Tags ?? [],
      meta,
      check: {
        checkId: check?.CheckID ?? "",
        ttl: spelled(check?.Definition?.TTL, spelling.checkTTL),
        deregisterCriticalServiceAfter: spelled(check?.Definition?.DeregisterCriticalServiceAfter, spelling.deregisterCriticalAfter),
        notes: check?.Notes ?? "",
      },
    },
    check: worstStatus(own.map((c) => c.Status)),
    output: check?.Output ?? "",
  };
}

// Consul reports the TTL in the check definition only in recent versions; where it is absent the
// configured value is assumed (a changed TTL then shows only after the next registration).
function spelled(reported: string | undefined, configured: string): string {
  if (reported === undefined || reported === "") return configured;
  const ms = parseDuration(reported);
  if (ms === null) return reported;
  return ms === parseDuration(configured) ? configured : formatDuration(ms);
}

/** The worst of check statuses: critical (also maintenance and unknown ones) > warning > passing. */
export function worstStatus(statuses: string[]): CheckStatus {
  if (statuses.length === 0) return "critical";
  if (statuses.some((s) => s !== "passing" && s !== "warning")) return "critical";
  return statuses.includes("warning") ? "warning" : "passing";
}

/** Throws when an answer was filtered by ACLs (it would read as empty). */
export function refuseFiltered(client: ConsulClient, filtered: boolean): void {
  // Why: a filtered catalog looks empty, and an empty registry would plan to register everything again.
  if (filtered) throw new ConsulError(client.address, 403, "results filtered by ACLs: the token lacks service:read/node:read, so the registry cannot be read");
}

/** What readRegistry needs. */
export interface ReadRegistryOptions {
  /** A client to use instead of one built from `env.consul` and `processEnv`. */
  client?: ConsulClient;
  processEnv?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

/** The environment's live registrations as actual resources: runtime `consul`, key `consul/<service>/<id>`,
 * target `<hostGroup>/<host>` (the host group found by the host named in meta `amphi-host`), the
 * registration, and `observed.check`. Throws ConsulError (naming the Consul address) when Consul cannot be
 * read: the caller reports the registry as an unreachable target. */
export async function readRegistry(env: EnvironmentModel, opts: ReadRegistryOptions = {}): Promise<{ resources: ActualResource[] }> {
  const client = opts.client ?? consulClientFor(env.consul, opts.processEnv);
  const records = await services(client, env.name, env.consul, { signal: opts.signal });
  const resources: ActualResource[] = records.map(({ registration, check }) => ({
    runtime: "consul",
    key: consulKey(registration.service, registration.id),
    app: registration.app,
    target: targetOf(env, registration.host),
    registration,
    observed: { check },
  }));
  return { resources: resources.sort((a, b) => compareStrings(a.key, b.key)) };
}

/** `<hostGroup>/<host>` of a host of the environment; `unknown/<host>` for a host it no longer has. */
export function targetOf(env: EnvironmentModel, host: string): string {
  const group = env.hostGroups.find((g) => g.hosts.some((h) => h.name === host));
  return hostTarget(group?.name ?? "unknown", host || "unknown");
}

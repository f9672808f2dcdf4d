// The Consul double's state: one agent that is also the only server, its services and TTL checks (synced
// to the catalog at once: a real agent's anti-entropy takes up to a minute), KV entries and sessions, and
// the raft-like indexes that blocking queries watch. Every write takes the next global index; each table
// (and each service name) remembers the index of its last write, so a blocking query on one endpoint is
// not woken by writes that cannot change its answer. See index.ts for what is and is not implemented.
import { randomUUID } from "node:crypto";

/** A service as registered on the agent (what /v1/agent/services shows). */
export interface DoubleService {
  /** The node it is registered on: the agent's own, or one written through /v1/catalog/register. */
  Node: string;
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Address: string;
  Port: number;
  EnableTagOverride: boolean;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A check (node or service level). Only TTL checks can be registered; `serfHealth` is the node's. */
export interface DoubleCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: "passing" | "warning" | "critical";
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: "ttl" | "";
  ttlMs: number;
  deregisterAfterMs: number;
  /** ms timestamp since when the check is critical, or null. */
  criticalSince: number | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A node written through /v1/catalog/register (the agent's own node is `Store.node`). */
export interface DoubleNode {
  Node: string;
  ID: string;
  Address: string;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** What one /v1/catalog/register writes: a node, optionally a service on it, and checks. */
export interface CatalogWrite {
  node: string;
  id: string;
  address: string;
  meta: Record<string, string>;
  service: Omit<DoubleService, "Node" | "CreateIndex" | "ModifyIndex"> | null;
  checks: Pick<DoubleCheck, "CheckID" | "Name" | "Status" | "Notes" | "Output" | "ServiceID">[];
}

/** A KV entry. */
export interface DoubleKv {
  Key: string;
  Value: Buffer;
  Flags: number;
  Session: string | null;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A session. */
export interface DoubleSession {
  ID: string;
  Name: string;
  Node: string;
  LockDelayMs: number;
  Behavior: "release" | "delete";
  TTL: string;
  ttlMs: number;
  CreateIndex: number;
  ModifyIndex: number;
}

/** Timing knobs (Consul's own values are the defaults; tests shorten them). */
export interface StoreTimings {
  /** How often critical services are reaped (Consul: check_reap_interval, 30 s). */
  reapIntervalMs: number;
  /** Floor of DeregisterCriticalServiceAfter (Consul: 1 minute). */
  deregisterMinMs: number;
  /** Floor of a session TTL (Consul: 10 s). */
  sessionTTLMinMs: number;
}

type Table = "services" | "checks" | "nodes" | "kvs" | "tombstones" | "sessions";

/** Misbehaviours of real Consul agents that watchers must survive (test controls, off by default). */
export interface Quirks {
  /** Blocking queries answer at once, as if the wait had elapsed (same index, same data). */
  blockingAnswersAtOnce: boolean;
  /** Every read answers this X-Consul-Index (0 too: the Consul bug clients must treat as 1); null: the real one. */
  fixedIndex: number | null;
  /** Every request is answered this many ms late (a slow or distant agent), so that concurrent requests overlap. */
  responseDelayMs: number;
}

/** The double's data and indexes. Writes call `touch`, which wakes blocked queries. */
export class Store {
  index = 1;
  readonly tables: Record<Table, number> = { services: 1, checks: 1, nodes: 1, kvs: 1, tombstones: 1, sessions: 1 };
  /** Per service name: index of the last change to its instances or their checks. */
  readonly serviceIndex = new Map<string, number>();
  /** Services and checks by key: the ID on the agent's node, `<node>\u0000<ID>` on other nodes (IDs are
   * unique per node, as in Consul). See keyOf. */
  readonly services = new Map<string, DoubleService>();
  readonly checks = new Map<string, DoubleCheck>();
  /** Nodes written through the catalog API (not the agent's own). */
  readonly nodes = new Map<string, DoubleNode>();
  readonly kv = new Map<string, DoubleKv>();
  readonly tombstones = new Map<string, number>();
  readonly sessions = new Map<string, DoubleSession>();
  /** Key → ms timestamp until which acquires fail (lock-delay after an invalidated session). */
  readonly lockDelay = new Map<string, number>();
  /** See Quirks; set through the double's setQuirks. */
  readonly quirks: Quirks = { blockingAnswersAtOnce: false, fixedIndex: null, responseDelayMs: 0 };
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly listeners = new Set<(force: boolean) => void>();
  private reaper: NodeJS.Timeout;

  constructor(
    readonly node: { name: string; id: string; address: string; datacenter: string },
    readonly timings: StoreTimings,
  ) {
    // Consul servers register themselves as service "consul" (no service checks) and keep a serfHealth
    // node check; both show in catalog and health answers, so clients must filter by tag as in production.
    this.services.set("consul", {
      Node: node.name, ID: "consul", Service: "consul", Tags: [], Meta: {}, Address: "", Port: 8300, EnableTagOverride: false, CreateIndex: 1, ModifyIndex: 1,
    });
    this.serviceIndex.set("consul", 1);
    this.checks.set("serfHealth", {
      Node: node.name, CheckID: "serfHealth", Name: "Serf Health Status", Status: "passing", Notes: "", Output: "Agent alive and reachable", ServiceID: "", ServiceName: "",
      Type: "", ttlMs: 0, deregisterAfterMs: 0, criticalSince: null, CreateIndex: 1, ModifyIndex: 1,
    });
    this.reaper = setInterval(() => this.reap(), timings.reapIntervalMs);
    this.reaper.unref();
  }

  /** Subscribes to writes (force: answer blocked queries now, see setIndex). */
  onChange(fn: (force: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes the next global index for a write touching `tables` and `serviceNames`, and wakes watchers. */
  touch(tables: Table[], serviceNames: string[] = []): number {
    const i = ++this.index;
    for (const t of tables) this.tables[t] = i;
    for (const s of serviceNames) this.serviceIndex.set(s, i);
    // After the caller has finished the write: watchers read the data the index stands for.
    queueMicrotask(() => {
      for (const l of [...this.listeners]) l(false);
    });
    return i;
  }

  /** Index of a service name's instances and checks; the services table's when there is no such service. */
  indexOfService(name: string): number {
    return this.serviceIndex.get(name) ?? this.tables.services;
  }

  /** Simulates an index reset (snapshot restore, a new cluster): every index becomes at most `n`, and
   * blocked queries answer at once with the new, lower index. */
  setIndex(n: number): void {
    this.index = n;
    for (const t of Object.keys(this.tables) as Table[]) this.tables[t] = Math.min(this.tables[t], n);
    for (const [k, v] of this.serviceIndex) this.serviceIndex.set(k, Math.min(v, n));
    for (const e of this.kv.values()) e.ModifyIndex = Math.min(e.ModifyIndex, n);
    for (const [k, v] of this.tombstones) this.tombstones.set(k, Math.min(v, n));
    for (const l of [...this.listeners]) l(true);
  }

  // --- services and checks -------------------------------------------------------------------------

  /** Registers (or replaces) a service with its TTL checks. Existing checks keep their status; with
   * `replaceChecks` the service's checks not in `checks` are removed. */
  registerService(svc: Omit<DoubleService, "Node" | "CreateIndex" | "ModifyIndex">, checks: Omit<DoubleCheck, "Node" | "CreateIndex" | "ModifyIndex" | "criticalSince" | "Status" | "Output">[], replaceChecks: boolean, initial: Map<string, DoubleCheck["Status"]>): void {
    const old = this.services.get(svc.ID);
    const names = [svc.Service, ...(old && old.Service !== svc.Service ? [old.Service] : [])];
    const i = this.touch(["services", "checks"], names);
    this.services.set(svc.ID, { ...svc, Node: this.node.name, CreateIndex: old?.CreateIndex ?? i, ModifyIndex: i });
    if (replaceChecks) {
      for (const c of [...this.checks.values()]) if (c.Node === this.node.name && c.ServiceID === svc.ID && !checks.some((n) => n.CheckID === c.CheckID)) this.removeCheck(c.CheckID);
    }
    for (const c of checks) {
      const prev = this.checks.get(c.CheckID);
      const status = initial.get(c.CheckID) ?? prev?.Status ?? "critical";
      this.checks.set(c.CheckID, {
        ...c,
        Node: this.node.name,
        Status: status,
        Output: prev?.Output ?? "",
        criticalSince: status === "critical" ? (prev?.criticalSince ?? Date.now()) : null,
        CreateIndex: prev?.CreateIndex ?? i,
        ModifyIndex: i,
      });
      this.armTTL(c.CheckID);
    }
  }

  /** Removes a service and its checks; false when there is no such service. */
  deregisterService(id: string): boolean {
    const svc = this.services.get(id);
    if (!svc || id === "consul") return false;
    this.touch(["services", "checks"], [svc.Service]);
    this.services.delete(id);
    for (const c of [...this.checks.values()]) if (c.Node === this.node.name && c.ServiceID === id) this.removeCheck(c.CheckID);
    return true;
  }

  /** The map key of a service or check ID on a node (see `services`). */
  keyOf(node: string, id: string): string {
    return node === this.node.name ? id : `${node}\u0000${id}`;
  }

  /** /v1/catalog/register on a node other than the agent's: creates or updates the node, the service
   * (replacing one with the same ID on that node) and the checks (by CheckID on that node; checks not named
   * stay, as in Consul). Catalog checks have no TTL: their status is what the writer says. */
  catalogRegister(w: CatalogWrite): void {
    const oldNode = this.nodes.get(w.node);
    const oldSvc = w.service ? this.services.get(this.keyOf(w.node, w.service.ID)) : undefined;
    const names = [...(w.service ? [w.service.Service] : []), ...(oldSvc && oldSvc.Service !== w.service?.Service ? [oldSvc.Service] : [])];
    for (const c of w.checks) {
      const svc = c.ServiceID ? (c.ServiceID === w.service?.ID ? w.service : this.services.get(this.keyOf(w.node, c.ServiceID))) : null;
      if (svc) names.push(svc.Service);
    }
    const i = this.touch(["nodes", ...(w.service ? (["services"] as const) : []), ...(w.checks.length > 0 ? (["checks"] as const) : [])], [...new Set(names)]);
    this.nodes.set(w.node, { Node: w.node, ID: w.id, Address: w.address, Meta: w.meta, CreateIndex: oldNode?.CreateIndex ?? i, ModifyIndex: i });
    if (w.service) this.services.set(this.keyOf(w.node, w.service.ID), { ...w.service, Node: w.node, CreateIndex: oldSvc?.CreateIndex ?? i, ModifyIndex: i });
    for (const c of w.checks) {
      const key = this.keyOf(w.node, c.CheckID);
      const prev = this.checks.get(key);
      const svc = c.ServiceID ? this.services.get(this.keyOf(w.node, c.ServiceID)) : undefined;
      this.checks.set(key, {
        ...c, Node: w.node, ServiceName: svc?.Service ?? "", Type: "", ttlMs: 0, deregisterAfterMs: 0,
        criticalSince: c.Status === "critical" ? (prev?.criticalSince ?? Date.now()) : null, CreateIndex: prev?.CreateIndex ?? i, ModifyIndex: i,
      });
    }
  }

  /** /v1/catalog/deregister: a check, a service (with its checks) or the whole node (with everything on it).
   * Removing what is not there is no error, as in Consul. */
  catalogDeregister(node: string, serviceId: string | null, checkId: string | null): void {
    const onNode = (x: { Node: string }) => x.Node === node;
    let services = [...this.services.values()].filter(onNode);
    let checks = [...this.checks.values()].filter(onNode);
    if (serviceId !== null) {
      services = services.filter((s) => s.ID === serviceId);
      checks = checks.filter((c) => c.ServiceID === serviceId);
    } else if (checkId !== null) {
      services = [];
      checks = checks.filter((c) => c.CheckID === checkId);
    }
    const whole = serviceId === null && checkId === null && this.nodes.has(node);
    if (services.length === 0 && checks.length === 0 && !whole) return;
    const names = [...new Set([...services.map((s) => s.Service), ...checks.map((c) => c.ServiceName).filter(Boolean)])];
    this.touch(["nodes", "services", "checks"], names);
    for (const s of services) this.services.delete(this.keyOf(node, s.ID));
    for (const c of checks) this.checks.delete(this.keyOf(node, c.CheckID));
    if (whole) this.nodes.delete(node);
  }

  private removeCheck(id: string): void {
    this.checks.delete(id);
    clearTimeout(this.timers.get(`ttl:${id}`));
    this.timers.delete(`ttl:${id}`);
  }

  /** Sets a TTL check's status and output and restarts its TTL. A write only when something changed. */
  updateCheck(id: string, status: DoubleCheck["Status"], output: string, fromTTL = false): void {
    const c = this.checks.get(id);
    if (!c) return;
    if (!fromTTL) this.armTTL(id);
    if (c.Status === status && c.Output === output) return;
    const i = this.touch(["checks"], c.ServiceName ? [c.ServiceName] : []);
    if (status === "critical" && c.Status !== "critical") c.criticalSince = Date.now();
    if (status !== "critical") c.criticalSince = null;
    Object.assign(c, { Status: status, Output: output, ModifyIndex: i });
  }

  // Consul's CheckTTL: no update within TTL → critical, "TTL expired" plus the last output.
  private armTTL(id: string): void {
    const c = this.checks.get(id);
    clearTimeout(this.timers.get(`ttl:${id}`));
    if (!c || c.ttlMs <= 0) return;
    const t = setTimeout(() => {
      const cur = this.checks.get(id);
      if (!cur) return;
      const last = cur.Output.startsWith("TTL expired") ? "" : cur.Output;
      this.updateCheck(id, "critical", last ? `TTL expired (last output before timeout follows): ${last}` : "TTL expired", true);
    }, c.ttlMs);
    t.unref();
    this.timers.set(`ttl:${id}`, t);
  }

  // Consul's reaper: a service whose check has been critical longer than its
  // DeregisterCriticalServiceAfter (at least the floor) is deregistered.
  private reap(): void {
    const now = Date.now();
    for (const c of [...this.checks.values()]) {
      if (c.deregisterAfterMs <= 0 || c.criticalSince === null || !c.ServiceID) continue;
      if (now - c.criticalSince > Math.max(c.deregisterAfterMs, this.timings.deregisterMinMs)) this.deregisterService(c.ServiceID);
    }
  }

  // --- KV and sessions -----------------------------------------------------------------------------

  /** Writes a key (value, flags, lock holder); returns the entry. */
  putKv(key: string, value: Buffer, flags: number, session: string | null, newLock: boolean): DoubleKv {
    const old = this.kv.get(key);
    const i = this.touch(["kvs"]);
    const e: DoubleKv = {
      Key: key, Value: value, Flags: flags, Session: session,
      LockIndex: (old?.LockIndex ?? 0) + (newLock ? 1 : 0), CreateIndex: old?.CreateIndex ?? i, ModifyIndex: i,
    };
    this.kv.set(key, e);
    this.tombstones.delete(key);
    return e;
  }

  /** Deletes keys, leaving tombstones so blocking queries on them wake. */
  deleteKv(keys: string[]): void {
    if (keys.length === 0) return;
    const i = this.touch(["kvs", "tombstones"]);
    for (const k of keys) {
      this.kv.delete(k);
      this.tombstones.set(k, i);
    }
  }

  /** Creates a session; its TTL (if any) invalidates it when not renewed within 2 × TTL, as Consul does. */
  createSession(s: Omit<DoubleSession, "ID" | "CreateIndex" | "ModifyIndex">): DoubleSession {
    const i = this.touch(["sessions"]);
    const session: DoubleSession = { ...s, ID: randomUUID(), CreateIndex: i, ModifyIndex: i };
    this.sessions.set(session.ID, session);
    this.armSession(session.ID);
    return session;
  }

  /** Restarts a session's TTL; false when it does not exist. */
  renewSession(id: string): boolean {
    if (!this.sessions.has(id)) return false;
    this.armSession(id);
    return true;
  }

  /** Destroys a session: its locks are released (or their keys deleted) and get the lock-delay. */
  destroySession(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(id);
    clearTimeout(this.timers.get(`session:${id}`));
    this.timers.delete(`session:${id}`);
    this.touch(["sessions"]);
    const held = [...this.kv.values()].filter((e) => e.Session === id);
    for (const e of held) {
      if (s.LockDelayMs > 0) this.lockDelay.set(e.Key, Date.now() + s.LockDelayMs);
      if (s.Behavior === "delete") this.deleteKv([e.Key]);
      else this.putKv(e.Key, e.Value, e.Flags, null, false);
    }
    return true;
  }

  private armSession(id: string): void {
    const s = this.sessions.get(id);
    clearTimeout(this.timers.get(`session:${id}`));
    if (!s || s.ttlMs <= 0) return;
    const t = setTimeout(() => this.destroySession(id), 2 * s.ttlMs);
    t.unref();
    this.timers.set(`session:${id}`, t);
  }

  /** Stops every timer (TTLs, sessions, the reaper). */
  close(): void {
    clearInterval(this.reaper);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.listeners.clear();
  }
}

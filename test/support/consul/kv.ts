// The double's KV store and sessions (see index.ts): enough of Consul's semantics for a state backend
// and a leader lock: cas, acquire/release with lock-delay, recurse/keys reads, blocking on keys and prefixes.
import { formatDuration, parseDuration } from "../../../src/model/duration.js";
import { allow, block, field, HttpError, jsonBody, readFiltered, requireWrite, sendFiltered, sendJson, type Ctx } from "./http.js";
import type { DoubleKv, DoubleSession, Store } from "./store.js";

/** Routes under /v1/kv and /v1/session; false when the path is not one of them. */
export async function kvRoutes(ctx: Ctx): Promise<boolean> {
  const p = ctx.path;
  let m: RegExpExecArray | null;
  if ((m = /^\/v1\/kv\/(.*)$/.exec(p))) {
    const key = decodeURIComponent(m[1]!);
    if (ctx.method === "GET") await kvGet(ctx, key);
    else if (ctx.method === "PUT") kvPut(ctx, key);
    else if (ctx.method === "DELETE") kvDelete(ctx, key);
    else throw new HttpError(405, `method ${ctx.method} not allowed`);
    return true;
  }
  if (p === "/v1/session/create") return sessionCreate(ctx);
  if ((m = /^\/v1\/session\/destroy\/(.+)$/.exec(p))) return sessionDestroy(ctx, m[1]!);
  if ((m = /^\/v1\/session\/renew\/(.+)$/.exec(p))) return sessionRenew(ctx, m[1]!);
  if ((m = /^\/v1\/session\/info\/(.+)$/.exec(p))) return sessionInfo(ctx, m[1]!);
  return false;
}

// --- KV --------------------------------------------------------------------------------------------------

async function kvGet(ctx: Ctx, key: string): Promise<void> {
  const { store, query } = ctx;
  const list = query.has("recurse") || query.has("keys");
  const indexOf = list ? () => prefixIndex(store, key) : () => store.kv.get(key)?.ModifyIndex ?? Math.max(store.tables.kvs, store.tables.tombstones);
  if (ctx.caller === "unknown") throw new HttpError(403, "ACL not found");
  if (ctx.caller === "anonymous" && !list) throw new HttpError(403, `Permission denied: anonymous token lacks permission 'key:read' on "${key}"`);
  await block(ctx, indexOf);
  if (ctx.res.destroyed) return;
  const index = indexOf();
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  if (query.has("keys")) return sendKeys(ctx, key, index);
  const entries = list ? [...store.kv.values()].filter((e) => e.Key.startsWith(key)).sort(byKey) : [store.kv.get(key)].filter((e): e is DoubleKv => !!e);
  if (entries.length === 0) {
    ctx.res.writeHead(404, { "X-Consul-Index": String(Math.max(1, index)), "X-Consul-KnownLeader": "true" }).end();
    return;
  }
  if (query.has("raw") && !list) {
    ctx.res.writeHead(200, { "Content-Type": "application/octet-stream", "X-Consul-Index": String(index) }).end(entries[0]!.Value);
    return;
  }
  sendJson(ctx, entries.map(kvView), index);
}

// Consul: the highest ModifyIndex of the keys (and tombstones) under the prefix, or the KV table's index
// when there is none, so a watch on an empty prefix still wakes when something appears.
function prefixIndex(store: Store, prefix: string): number {
  let max = 0;
  for (const e of store.kv.values()) if (e.Key.startsWith(prefix)) max = Math.max(max, e.ModifyIndex);
  for (const [k, i] of store.tombstones) if (k.startsWith(prefix)) max = Math.max(max, i);
  return max || Math.max(store.tables.kvs, store.tables.tombstones);
}

function sendKeys(ctx: Ctx, prefix: string, index: number): void {
  const sep = ctx.query.get("separator") ?? "";
  const keys = new Set<string>();
  for (const k of ctx.store.kv.keys()) {
    if (!k.startsWith(prefix)) continue;
    const cut = sep ? k.indexOf(sep, prefix.length) : -1;
    keys.add(cut >= 0 ? k.slice(0, cut + sep.length) : k);
  }
  if (keys.size === 0) {
    ctx.res.writeHead(404, { "X-Consul-Index": String(Math.max(1, index)) }).end();
    return;
  }
  sendJson(ctx, [...keys].sort(), index);
}

function kvPut(ctx: Ctx, key: string): void {
  const { store, query } = ctx;
  requireWrite(ctx, "key:write", key);
  if (!key) throw new HttpError(400, "Missing key name");
  const old = store.kv.get(key);
  const flags = Number(query.get("flags") ?? old?.Flags ?? 0);
  const cas = query.get("cas");
  if (cas !== null && !casMatches(old, Number(cas))) return sendJson(ctx, false);
  const acquire = query.get("acquire");
  const release = query.get("release");
  if (acquire !== null) {
    if (!store.sessions.has(acquire)) throw new HttpError(500, `invalid session "${acquire}"`);
    if (old?.Session && old.Session !== acquire) return sendJson(ctx, false);
    if ((store.lockDelay.get(key) ?? 0) > Date.now()) return sendJson(ctx, false);
    store.putKv(key, ctx.body, flags, acquire, old?.Session !== acquire);
    return sendJson(ctx, true);
  }
  if (release !== null) {
    if (!old || old.Session !== release) return sendJson(ctx, false);
    store.putKv(key, ctx.body, flags, null, false);
    return sendJson(ctx, true);
  }
  store.putKv(key, ctx.body, flags, old?.Session ?? null, false);
  sendJson(ctx, true);
}

function kvDelete(ctx: Ctx, key: string): void {
  const { store, query } = ctx;
  requireWrite(ctx, "key:write", key);
  const cas = query.get("cas");
  if (query.has("recurse")) {
    store.deleteKv([...store.kv.keys()].filter((k) => k.startsWith(key)));
    return sendJson(ctx, true);
  }
  const old = store.kv.get(key);
  if (cas !== null && !casMatches(old, Number(cas))) return sendJson(ctx, false);
  if (old) store.deleteKv([key]);
  sendJson(ctx, true);
}

/** cas=0: only when the key does not exist; cas=N: only when its ModifyIndex is N. */
function casMatches(old: DoubleKv | undefined, cas: number): boolean {
  return cas === 0 ? !old : old?.ModifyIndex === cas;
}

function kvView(e: DoubleKv): Record<string, unknown> {
  return {
    Key: e.Key, Flags: e.Flags, Value: e.Value.length ? e.Value.toString("base64") : null, LockIndex: e.LockIndex,
    ...(e.Session ? { Session: e.Session } : {}), CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex,
  };
}

function byKey(a: DoubleKv, b: DoubleKv): number {
  return a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0;
}

// --- sessions --------------------------------------------------------------------------------------------

function sessionCreate(ctx: Ctx): true {
  allow(ctx, "PUT");
  requireWrite(ctx, "session:write", ctx.store.node.name);
  const body = jsonBody(ctx);
  const ttl = typeof field(body, "TTL") === "string" ? (field(body, "TTL") as string) : "";
  const ttlMs = ttl ? parseDuration(ttl) : 0;
  const min = ctx.store.timings.sessionTTLMinMs;
  if (ttlMs === null || (ttl && (ttlMs < min || ttlMs > 86_400_000))) {
    throw new HttpError(400, `Session TTL '${ttl}' must be between [${formatDuration(min)}=24h0m0s]`);
  }
  const behavior = field(body, "Behavior") ?? "release";
  if (behavior !== "release" && behavior !== "delete") throw new HttpError(400, `Invalid Behavior setting '${String(behavior)}'`);
  const lockDelay = field(body, "LockDelay");
  const lockDelayMs = typeof lockDelay === "number" ? lockDelay / 1e6 : typeof lockDelay === "string" ? (parseDuration(lockDelay) ?? 15_000) : 15_000;
  const s = ctx.store.createSession({
    Name: typeof field(body, "Name") === "string" ? (field(body, "Name") as string) : "",
    Node: typeof field(body, "Node") === "string" ? (field(body, "Node") as string) : ctx.store.node.name,
    LockDelayMs: lockDelayMs,
    Behavior: behavior,
    TTL: ttl,
    ttlMs,
  });
  sendJson(ctx, { ID: s.ID });
  return true;
}

function sessionDestroy(ctx: Ctx, id: string): true {
  allow(ctx, "PUT");
  requireWrite(ctx, "session:write", ctx.store.node.name);
  ctx.store.destroySession(id);
  sendJson(ctx, true);
  return true;
}

function sessionRenew(ctx: Ctx, id: string): true {
  allow(ctx, "PUT");
  requireWrite(ctx, "session:write", ctx.store.node.name);
  if (!ctx.store.renewSession(id)) throw new HttpError(404, `Session id '${id}' not found`);
  sendJson(ctx, [sessionView(ctx.store.sessions.get(id)!)], ctx.store.tables.sessions);
  return true;
}

async function sessionInfo(ctx: Ctx, id: string): Promise<true> {
  allow(ctx, "GET");
  if (readFiltered(ctx)) {
    sendFiltered(ctx, [], ctx.store.tables.sessions);
    return true;
  }
  await block(ctx, () => ctx.store.tables.sessions);
  if (ctx.res.destroyed) return true;
  const s = ctx.store.sessions.get(id);
  sendJson(ctx, s ? [sessionView(s)] : [], ctx.store.tables.sessions);
  return true;
}

function sessionView(s: DoubleSession): Record<string, unknown> {
  return {
    ID: s.ID, Name: s.Name, Node: s.Node, LockDelay: Math.round(s.LockDelayMs * 1e6), Behavior: s.Behavior, TTL: s.TTL,
    NodeChecks: ["serfHealth"], ServiceChecks: null, CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  };
}

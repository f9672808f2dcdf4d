// The double's agent, catalog and health endpoints (see index.ts for the list and their semantics).
import { formatDuration, parseDuration } from "../../../src/model/duration.js";
import { allow, block, field, HttpError, jsonBody, readFiltered, requireWrite, sendFiltered, sendJson, type Ctx } from "./http.js";
import type { CatalogWrite, DoubleCheck, DoubleService, Store } from "./store.js";

type NewCheck = Parameters<Store["registerService"]>[1][number];
type CatalogCheck = CatalogWrite["checks"][number];
const STATUSES = ["passing", "warning", "critical"] as const;

/** Routes under /v1/agent, /v1/catalog and /v1/health; false when the path is not one of them. */
export async function serviceRoutes(ctx: Ctx): Promise<boolean> {
  const p = ctx.path;
  let m: RegExpExecArray | null;
  if (p === "/v1/agent/service/register") return done(register(ctx));
  if ((m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(p))) return done(deregister(ctx, decodeURIComponent(m[1]!)));
  if ((m = /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/.exec(p))) return done(ttlUpdate(ctx, m[1]!, decodeURIComponent(m[2]!)));
  if ((m = /^\/v1\/agent\/check\/update\/(.+)$/.exec(p))) return done(checkUpdate(ctx, decodeURIComponent(m[1]!)));
  if ((m = /^\/v1\/agent\/service\/([^/]+)$/.exec(p))) return done(agentService(ctx, decodeURIComponent(m[1]!)));
  if (p === "/v1/catalog/register") return done(catalogRegister(ctx));
  if (p === "/v1/catalog/deregister") return done(catalogDeregister(ctx));
  if (p === "/v1/agent/services") return done(agentServices(ctx));
  if (p === "/v1/agent/checks") return done(agentChecks(ctx));
  if (p === "/v1/catalog/services") return blocking(ctx, () => ctx.store.tables.services, () => catalogServices(ctx));
  if ((m = /^\/v1\/catalog\/service\/(.+)$/.exec(p))) {
    const name = decodeURIComponent(m[1]!);
    return blocking(ctx, () => ctx.store.indexOfService(name), () => catalogService(ctx, name));
  }
  if ((m = /^\/v1\/health\/service\/(.+)$/.exec(p))) {
    const name = decodeURIComponent(m[1]!);
    return blocking(ctx, () => ctx.store.indexOfService(name), () => healthService(ctx, name));
  }
  if (p === "/v1/catalog/nodes") return blocking(ctx, () => ctx.store.tables.nodes, () => catalogNodes(ctx));
  if ((m = /^\/v1\/catalog\/node-services\/(.+)$/.exec(p))) {
    const node = decodeURIComponent(m[1]!);
    return blocking(ctx, () => Math.max(ctx.store.tables.nodes, ctx.store.tables.services), () => catalogNodeServices(ctx, node));
  }
  if ((m = /^\/v1\/health\/node\/(.+)$/.exec(p))) {
    const node = decodeURIComponent(m[1]!);
    return blocking(ctx, () => ctx.store.tables.checks, () => healthNode(ctx, node));
  }
  if ((m = /^\/v1\/health\/checks\/(.+)$/.exec(p))) {
    const name = decodeURIComponent(m[1]!);
    return blocking(ctx, () => ctx.store.indexOfService(name), () => healthChecks(ctx, name));
  }
  return false;
}

function done(_: void): true {
  return true;
}

async function blocking(ctx: Ctx, indexOf: () => number, answer: () => void): Promise<true> {
  allow(ctx, "GET");
  readFiltered(ctx);
  await block(ctx, indexOf);
  if (!ctx.res.destroyed) answer();
  return true;
}

// --- writes --------------------------------------------------------------------------------------------

function register(ctx: Ctx): void {
  allow(ctx, "PUT");
  const body = jsonBody(ctx);
  const name = str(field(body, "Name"));
  if (!name) throw new HttpError(400, "Missing service name");
  requireWrite(ctx, "service:write", name);
  const id = str(field(body, "ID")) || name;
  const svc = {
    ID: id,
    Service: name,
    Tags: strings(field(body, "Tags")),
    Meta: stringMap(field(body, "Meta")),
    Address: str(field(body, "Address")),
    Port: Number(field(body, "Port") ?? 0),
    EnableTagOverride: field(body, "EnableTagOverride") === true,
  };
  const initial = new Map<string, DoubleCheck["Status"]>();
  const checks = checkDefs(body).map((c, i, all) => newCheck(svc, c, all.length > 1 ? i + 1 : 0, initial));
  const replace = ctx.query.get("replace-existing-checks");
  ctx.store.registerService(svc, checks, replace !== null && replace !== "false" && replace !== "0", initial);
  ctx.res.writeHead(200).end();
}

function checkDefs(body: Record<string, unknown>): Record<string, unknown>[] {
  const one = field(body, "Check");
  const many = field(body, "Checks");
  const list = [...(one && typeof one === "object" ? [one] : []), ...(Array.isArray(many) ? many : [])];
  return list.filter((c): c is Record<string, unknown> => !!c && typeof c === "object");
}

// Consul's defaults: CheckID `service:<id>` (`service:<id>:<n>` for the n-th of several), Name
// `Service '<name>' check`, initial status critical. Only TTL checks are implemented in the double.
function newCheck(svc: { ID: string; Service: string }, c: Record<string, unknown>, n: number, initial: Map<string, DoubleCheck["Status"]>): NewCheck {
  const ttl = str(field(c, "TTL"));
  if (!ttl) throw new HttpError(400, "Invalid check: the Consul test double implements TTL checks only (TTL is missing)");
  const ttlMs = parseDuration(ttl);
  if (ttlMs === null || ttlMs <= 0) throw new HttpError(400, `Invalid check: TTL must be > 0 for TTL checks`);
  const dereg = str(field(c, "DeregisterCriticalServiceAfter"));
  const deregisterAfterMs = dereg ? parseDuration(dereg) : 0;
  if (deregisterAfterMs === null) throw new HttpError(400, `Invalid check: invalid DeregisterCriticalServiceAfter "${dereg}"`);
  const checkId = str(field(c, "CheckID")) || str(field(c, "ID")) || (n ? `service:${svc.ID}:${n}` : `service:${svc.ID}`);
  const status = str(field(c, "Status"));
  if (status) {
    if (!(STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `Invalid check status: "${status}"`);
    initial.set(checkId, status as DoubleCheck["Status"]);
  }
  return {
    CheckID: checkId,
    Name: str(field(c, "Name")) || `Service '${svc.Service}' check`,
    Notes: str(field(c, "Notes")),
    ServiceID: svc.ID,
    ServiceName: svc.Service,
    Type: "ttl",
    ttlMs,
    deregisterAfterMs,
  };
}

function deregister(ctx: Ctx, id: string): void {
  allow(ctx, "PUT");
  const svc = ctx.store.services.get(id);
  requireWrite(ctx, "service:write", svc?.Service ?? id);
  if (!svc || id === "consul" || !ctx.store.deregisterService(id)) {
    throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
  }
  ctx.res.writeHead(200).end();
}

// Consul's Catalog.Register: Node and Address required; Service (its name in `Service`, ID default the
// name), Check and Checks optional; a check's Status defaults to critical; a check naming a ServiceID must
// name a service of that node (this request's or one registered before). Writing the agent's own node is
// refused by the double (Consul would allow it, and its anti-entropy would undo it within a minute).
function catalogRegister(ctx: Ctx): void {
  allow(ctx, "PUT");
  const body = jsonBody(ctx);
  const node = str(field(body, "Node"));
  const address = str(field(body, "Address"));
  if (!node) throw new HttpError(400, "Must provide node");
  if (!address) throw new HttpError(400, "Must provide address");
  if (node === ctx.store.node.name) throw new HttpError(400, `the Consul test double does not implement catalog writes to the agent's own node "${node}" (use the agent API)`);
  requireWrite(ctx, "node:write", node);
  const s = field(body, "Service");
  const service = s && typeof s === "object" ? catalogService0(s as Record<string, unknown>) : null;
  if (service) requireWrite(ctx, "service:write", service.Service);
  const checks = checkDefs(body).map((c) => catalogCheck(ctx, node, service, c));
  ctx.store.catalogRegister({ node, id: str(field(body, "ID")), address, meta: stringMap(field(body, "NodeMeta")), service, checks });
  sendJson(ctx, true);
}

function catalogService0(s: Record<string, unknown>): CatalogWrite["service"] {
  const name = str(field(s, "Service"));
  if (!name) throw new HttpError(400, "Must provide service name with ID");
  return {
    ID: str(field(s, "ID")) || name, Service: name, Tags: strings(field(s, "Tags")), Meta: stringMap(field(s, "Meta")),
    Address: str(field(s, "Address")), Port: Number(field(s, "Port") ?? 0), EnableTagOverride: field(s, "EnableTagOverride") === true,
  };
}

function catalogCheck(ctx: Ctx, node: string, service: CatalogWrite["service"], c: Record<string, unknown>): CatalogCheck {
  const checkId = str(field(c, "CheckID"));
  if (!checkId) throw new HttpError(400, "Missing check ID");
  const status = str(field(c, "Status")) || "critical";
  if (!(STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `Invalid check status: "${status}"`);
  const serviceId = str(field(c, "ServiceID"));
  if (serviceId && serviceId !== service?.ID && !ctx.store.services.has(ctx.store.keyOf(node, serviceId))) {
    throw new HttpError(400, `Unknown service ID "${serviceId}" for check ID "${checkId}"`);
  }
  return { CheckID: checkId, Name: str(field(c, "Name")) || checkId, Status: status as DoubleCheck["Status"], Notes: str(field(c, "Notes")), Output: str(field(c, "Output")), ServiceID: serviceId };
}

// Consul's Catalog.Deregister: Node required; with ServiceID the service and its checks, with CheckID one
// check, with neither the node and everything on it. Answers true also when nothing was there.
function catalogDeregister(ctx: Ctx): void {
  allow(ctx, "PUT");
  const body = jsonBody(ctx);
  const node = str(field(body, "Node"));
  if (!node) throw new HttpError(400, "Must provide node");
  if (node === ctx.store.node.name) throw new HttpError(400, `the Consul test double does not implement catalog writes to the agent's own node "${node}" (use the agent API)`);
  requireWrite(ctx, "node:write", node);
  const serviceId = str(field(body, "ServiceID")) || null;
  const checkId = str(field(body, "CheckID")) || null;
  ctx.store.catalogDeregister(node, serviceId, checkId);
  sendJson(ctx, true);
}

function ttlUpdate(ctx: Ctx, verb: string, id: string): void {
  const status = verb === "pass" ? "passing" : verb === "warn" ? "warning" : "critical";
  setCheck(ctx, id, status, ctx.query.get("note") ?? "");
}

function checkUpdate(ctx: Ctx, id: string): void {
  allow(ctx, "PUT");
  const body = jsonBody(ctx);
  const status = str(field(body, "Status"));
  if (!(STATUSES as readonly string[]).includes(status)) throw new HttpError(400, `Invalid check status: "${status}"`);
  setCheck(ctx, id, status as DoubleCheck["Status"], str(field(body, "Output")));
}

function setCheck(ctx: Ctx, id: string, status: DoubleCheck["Status"], output: string): void {
  allow(ctx, "PUT");
  const c = ctx.store.checks.get(id);
  requireWrite(ctx, "service:write", c?.ServiceName ?? id);
  if (!c || c.CheckID === "serfHealth") throw new HttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  if (c.Type !== "ttl") throw new HttpError(500, `CheckID "${id}" does not have associated TTL`);
  ctx.store.updateCheck(id, status, output);
  ctx.res.writeHead(200).end();
}

// --- reads ---------------------------------------------------------------------------------------------

/** Agent endpoints answer from the agent's local state, not from raft: no X-Consul-Index, no blocking. */
function agentServices(ctx: Ctx): void {
  allow(ctx, "GET");
  if (readFiltered(ctx)) return sendJson(ctx, {}, undefined, { "X-Consul-Results-Filtered-By-ACLs": "true" });
  const out: Record<string, unknown> = {};
  for (const s of ownServices(ctx.store)) out[s.ID] = agentView(ctx.store, s);
  sendJson(ctx, out);
}

function agentService(ctx: Ctx, id: string): void {
  allow(ctx, "GET");
  const s = ctx.store.services.get(id);
  if (readFiltered(ctx) || !s || id === "consul") throw new HttpError(404, `unknown service ID: ${id}`);
  sendJson(ctx, { ...agentView(ctx.store, s), ContentHash: String(s.ModifyIndex) });
}

function agentChecks(ctx: Ctx): void {
  allow(ctx, "GET");
  if (readFiltered(ctx)) return sendJson(ctx, {}, undefined, { "X-Consul-Results-Filtered-By-ACLs": "true" });
  const out: Record<string, unknown> = {};
  for (const c of ctx.store.checks.values()) if (c.Type === "ttl" && c.Node === ctx.store.node.name) out[c.CheckID] = checkView(ctx.store, c);
  sendJson(ctx, out);
}

function catalogServices(ctx: Ctx): void {
  const index = ctx.store.tables.services;
  if (readFiltered(ctx)) return sendFiltered(ctx, {}, index);
  const out: Record<string, string[]> = {};
  for (const s of ctx.store.services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
  sendJson(ctx, Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]])), index);
}

function catalogService(ctx: Ctx, name: string): void {
  const index = ctx.store.indexOfService(name);
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  const out = instances(ctx, name).map((s) => ({
    ...catalogNode(ctx.store, s.Node),
    ServiceKind: "", ServiceID: s.ID, ServiceName: s.Service, ServiceTags: s.Tags, ServiceAddress: s.Address, ServicePort: s.Port,
    ServiceMeta: s.Meta, ServiceWeights: { Passing: 1, Warning: 1 }, ServiceEnableTagOverride: s.EnableTagOverride,
    CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  }));
  sendJson(ctx, out, index);
}

function healthService(ctx: Ctx, name: string): void {
  const index = ctx.store.indexOfService(name);
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  const passing = ctx.query.get("passing");
  const onlyPassing = passing !== null && passing !== "false" && passing !== "0";
  const entries = instances(ctx, name).map((s) => ({
    Node: nodeView(ctx.store, s.Node),
    Service: { ...agentView(ctx.store, s), CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex },
    Checks: [...ctx.store.checks.values()].filter((c) => c.Node === s.Node && (c.ServiceID === "" || c.ServiceID === s.ID)).map((c) => checkView(ctx.store, c)),
  }));
  sendJson(ctx, onlyPassing ? entries.filter((e) => e.Checks.every((c) => c.Status === "passing")) : entries, index);
}

function healthChecks(ctx: Ctx, name: string): void {
  const index = ctx.store.indexOfService(name);
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  sendJson(ctx, [...ctx.store.checks.values()].filter((c) => c.ServiceName === name).map((c) => checkView(ctx.store, c)), index);
}

// Consul's Catalog.ListNodes: every node (the agent's own too), sorted by name; `?node-meta=key:value`
// (repeatable) keeps the nodes whose meta has every pair.
function catalogNodes(ctx: Ctx): void {
  const index = ctx.store.tables.nodes;
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  const wanted = ctx.query.getAll("node-meta").map((kv) => {
    const at = kv.indexOf(":");
    return at < 0 ? [kv, ""] : [kv.slice(0, at), kv.slice(at + 1)];
  });
  const names = [ctx.store.node.name, ...ctx.store.nodes.keys()].sort();
  const out = names
    .map((n) => nodeView(ctx.store, n))
    .filter((v) => wanted.every(([k, val]) => (v.Meta as Record<string, string>)[k!] === val));
  sendJson(ctx, out, index);
}

// Consul's Catalog.NodeServiceList (`/v1/catalog/node-services/:node`, Consul 1.7+): the node and a list of its
// services; a node that does not exist answers `{"Node": null, "Services": []}`.
function catalogNodeServices(ctx: Ctx, node: string): void {
  const index = Math.max(ctx.store.tables.nodes, ctx.store.tables.services);
  if (readFiltered(ctx)) return sendFiltered(ctx, { Node: null, Services: [] }, index);
  const known = node === ctx.store.node.name || ctx.store.nodes.has(node);
  const services = known ? [...ctx.store.services.values()].filter((s) => s.Node === node).sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0)) : [];
  const Services = services.map((s) => ({ ...agentView(ctx.store, s), Kind: "", CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex }));
  sendJson(ctx, { Node: known ? nodeView(ctx.store, node) : null, Services }, index);
}

// Consul's Health.NodeChecks: every check on the node (its own and its services'); none for an unknown node.
function healthNode(ctx: Ctx, node: string): void {
  const index = ctx.store.tables.checks;
  if (readFiltered(ctx)) return sendFiltered(ctx, [], index);
  const checks = [...ctx.store.checks.values()].filter((c) => c.Node === node).sort((a, b) => (a.CheckID < b.CheckID ? -1 : a.CheckID > b.CheckID ? 1 : 0));
  sendJson(ctx, checks.map((c) => checkView(ctx.store, c)), index);
}

/** Instances of a service, in ID order, with every `?tag=` (repeatable) among their tags. */
function instances(ctx: Ctx, name: string): DoubleService[] {
  const tags = ctx.query.getAll("tag");
  return [...ctx.store.services.values()]
    .filter((s) => s.Service === name && tags.every((t) => s.Tags.includes(t)))
    .sort((a, b) => (a.Node < b.Node ? -1 : a.Node > b.Node ? 1 : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
}

function ownServices(store: Store): DoubleService[] {
  return [...store.services.values()].filter((s) => s.ID !== "consul" && s.Node === store.node.name);
}

function agentView(store: Store, s: DoubleService): Record<string, unknown> {
  return {
    ID: s.ID, Service: s.Service, Tags: s.Tags, Meta: s.Meta, Port: s.Port, Address: s.Address,
    Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: s.EnableTagOverride, Datacenter: store.node.datacenter,
  };
}

function nodeView(store: Store, name: string): Record<string, unknown> {
  const n = store.node;
  const other = name === n.name ? null : store.nodes.get(name);
  if (other) return { ID: other.ID, Node: other.Node, Address: other.Address, Datacenter: n.datacenter, TaggedAddresses: {}, Meta: other.Meta, CreateIndex: other.CreateIndex, ModifyIndex: other.ModifyIndex };
  return { ID: n.id, Node: n.name, Address: n.address, Datacenter: n.datacenter, TaggedAddresses: { lan: n.address, wan: n.address }, Meta: {}, CreateIndex: 1, ModifyIndex: 1 };
}

// The node fields of a /v1/catalog/service entry.
function catalogNode(store: Store, name: string): Record<string, unknown> {
  const v = nodeView(store, name);
  return { ID: v.ID, Node: v.Node, Address: v.Address, Datacenter: v.Datacenter, TaggedAddresses: v.TaggedAddresses, NodeMeta: v.Meta };
}

/** A check as the health and agent endpoints show it; Definition carries the TTL and deregister timeout
 * as Go durations, as Consul's HealthCheckDefinition does. */
function checkView(store: Store, c: DoubleCheck): { Status: string } & Record<string, unknown> {
  const svc = store.services.get(store.keyOf(c.Node, c.ServiceID));
  return {
    Node: c.Node, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output,
    ServiceID: c.ServiceID, ServiceName: c.ServiceName, ServiceTags: svc?.Tags ?? [], Type: c.Type,
    Definition: c.Type === "ttl"
      ? { Interval: "0s", Timeout: "0s", TTL: formatDuration(c.ttlMs), DeregisterCriticalServiceAfter: formatDuration(c.deregisterAfterMs) }
      : {},
    CreateIndex: c.CreateIndex, ModifyIndex: c.ModifyIndex,
  };
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== "object" || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"));
}

// Request routing for the kube-apiserver double: discovery and OpenAPI paths, then resource paths
// (/api/v1/…, /apis/<group>/<version>/…, namespaced or not, with a subresource) mapped to a verb.
import type { IncomingMessage, ServerResponse } from "node:http";
import { findType, type ResourceType } from "./catalog.js";
import {
  AGGREGATED_CONTENT_TYPE, aggregatedDiscovery, apiGroupList, apiResourceList, apiVersions, versionInfo, wantsAggregated,
} from "./discovery.js";
import { isObj, type Obj } from "./fieldset.js";
import { openApiV3Doc, openApiV3Root } from "./openapi.js";
import { methodNotAllowed, pathNotFound } from "./status.js";
import type { Ref, Store } from "./store.js";
import { toTable, wantsTable } from "./table.js";
import type { Watches } from "./watch.js";
import { create, parseBody, patch, remove, replace, scaleOf, writeScale, type WriteRequest } from "./writes.js";

/** What the router needs from the double. */
export interface RouteContext {
  store: Store;
  watches: Watches;
  aggregatedDiscovery: boolean;
  hostPort: string;
  /** Throws a 403 ApiError if the test forbade this verb on this resource. */
  authorize(verb: string, type: ResourceType, namespace: string | undefined, name: string): void;
}

/** A parsed resource URL. */
export interface ResourcePath {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** A response to send: status code, body (JSON-encoded unless a string) and content type. */
export interface Reply {
  code: number;
  body: unknown;
  contentType?: string;
  cacheControl?: string;
}

/** Parses /api/v1/… and /apis/<g>/<v>/… resource paths; undefined for anything else. */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segs = pathname.split("/").filter((s) => s !== "");
  let group: string, version: string, rest: string[];
  if (segs[0] === "api" && segs[1] === "v1") [group, version, rest] = ["", "v1", segs.slice(2)];
  else if (segs[0] === "apis" && segs.length >= 3) [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
  else return undefined;
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && findType(group, version, rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const type = findType(group, version, rest[0]!);
  if (!type || rest.length > 3) return undefined;
  if (type.namespaced && namespace === undefined && rest.length > 1) return undefined;
  return { type, namespace, name: rest[1], subresource: rest[2] };
}

/** The RBAC verb of a request. */
export function verbOf(method: string, p: ResourcePath, watch: boolean): string {
  if (method === "GET") return watch ? "watch" : p.name ? "get" : "list";
  if (method === "DELETE") return p.name ? "delete" : "deletecollection";
  return { POST: "create", PUT: "update", PATCH: "patch" }[method] ?? method.toLowerCase();
}

/** Answers discovery, /version and OpenAPI paths; undefined if `pathname` is none of them. */
export function discoveryReply(pathname: string, accept: string | undefined, ctx: RouteContext): Reply | undefined {
  const aggregated = ctx.aggregatedDiscovery && wantsAggregated(accept);
  switch (pathname) {
    case "/version":
      return { code: 200, body: versionInfo() };
    case "/api":
      return aggregated
        ? { code: 200, body: aggregatedDiscovery(true), contentType: AGGREGATED_CONTENT_TYPE }
        : { code: 200, body: apiVersions(ctx.hostPort) };
    case "/apis":
      return aggregated
        ? { code: 200, body: aggregatedDiscovery(false), contentType: AGGREGATED_CONTENT_TYPE }
        : { code: 200, body: apiGroupList() };
    case "/openapi/v3":
      return { code: 200, body: openApiV3Root() };
    case "/healthz":
    case "/livez":
    case "/readyz":
      return { code: 200, body: "ok", contentType: "text/plain; charset=utf-8" };
  }
  if (pathname.startsWith("/openapi/v3/")) {
    const doc = openApiV3Doc(pathname.slice("/openapi/v3/".length));
    // Hashed document URLs never change; the real apiserver marks them cacheable too.
    return doc ? { code: 200, body: doc, cacheControl: "public, immutable" } : { code: 404, body: pathNotFound().toStatus() };
  }
  const gv = pathname === "/api/v1" ? "v1" : /^\/apis\/([^/]+\/[^/]+)$/.exec(pathname)?.[1];
  if (gv) {
    const list = apiResourceList(gv);
    return list ? { code: 200, body: list } : { code: 404, body: pathNotFound().toStatus() };
  }
  return undefined;
}

function listOf(store: Store, p: ResourcePath, q: URLSearchParams): Obj {
  const items = store.list(p.type, p.namespace, q.get("labelSelector"), q.get("fieldSelector")).map((o) => {
    delete o.apiVersion; // list items carry no apiVersion/kind on the wire
    delete o.kind;
    return o;
  });
  const apiVersion = p.type.group ? `${p.type.group}/${p.type.version}` : p.type.version;
  return { kind: `${p.type.kind}List`, apiVersion, metadata: { resourceVersion: store.resourceVersion }, items };
}

/** Handles a resource request; returns undefined when the reply was streamed (watch). */
export function resourceReply(
  ctx: RouteContext, p: ResourcePath, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, raw: string,
): Reply | undefined {
  const method = req.method ?? "GET";
  const watch = q.get("watch") === "true" || q.get("watch") === "1";
  ctx.authorize(verbOf(method, p, watch), p.type, p.namespace, p.name ?? "");
  if (p.subresource && !p.type.subresources.some((s) => s.name === p.subresource)) throw pathNotFound();
  const ref: Ref = { type: p.type, namespace: p.namespace, name: p.name ?? "" };
  const body = () => parseBody(raw, "json") as Obj;
  const deleteOptions = method === "DELETE" && raw.trim() ? body() : {};
  const isApply = String(req.headers["content-type"] ?? "").startsWith("application/apply-patch+yaml");
  const write: WriteRequest = {
    dryRun: q.getAll("dryRun").includes("All") || (Array.isArray(deleteOptions.dryRun) && deleteOptions.dryRun.includes("All")),
    force: q.get("force") === "true",
    // Like the apiserver: an apply must name its manager; other writes default to the User-Agent's
    // first word ("kubectl").
    fieldManager: q.get("fieldManager") ?? (isApply ? "" : (req.headers["user-agent"] ?? "").split("/")[0] ?? ""),
  };
  const status = p.subresource === "status" ? ("status" as const) : undefined;
  const table = wantsTable(req.headers.accept);
  const now = () => new Date(ctx.store.timestamp());
  const scale = p.subresource === "scale";
  if (!p.name) {
    if (method === "GET" && watch) {
      ctx.watches.serve(ctx.store, { ...p, labelSelector: q.get("labelSelector"), fieldSelector: q.get("fieldSelector"),
        resourceVersion: q.get("resourceVersion"), timeoutSeconds: Number(q.get("timeoutSeconds")) || null }, res);
      return undefined;
    }
    if (method === "GET") {
      const list = listOf(ctx.store, p, q);
      return { code: 200, body: table ? toTable(p.type, list.items as Obj[], ctx.store.resourceVersion, now()) : list };
    }
    if (method === "POST") {
      const obj = body();
      const md = isObj(obj.metadata) ? obj.metadata : {};
      let name = typeof md.name === "string" ? md.name : "";
      if (!name && typeof md.generateName === "string") name = md.generateName + Math.random().toString(36).slice(2, 7);
      const created = create(ctx.store, { ...ref, name }, obj, write);
      return { code: write.dryRun ? 200 : 201, body: created };
    }
    if (method === "DELETE") {
      for (const o of ctx.store.list(p.type, p.namespace, q.get("labelSelector"), q.get("fieldSelector"))) {
        remove(ctx.store, { ...ref, name: String((o.metadata as Obj).name) }, write);
      }
      return { code: 200, body: { ...listOf(ctx.store, p, q), items: [] } };
    }
    throw methodNotAllowed(method);
  }
  switch (method) {
    case "GET": {
      const obj = ctx.store.get(ref);
      if (scale) return { code: 200, body: scaleOf(obj) };
      return { code: 200, body: table && !status ? toTable(p.type, [obj], ctx.store.resourceVersion, now()) : obj };
    }
    case "PUT":
      return { code: 200, body: scale ? writeScale(ctx.store, ref, body(), write, false) : replace(ctx.store, ref, body(), write, status) };
    case "PATCH": {
      const ct = String(req.headers["content-type"] ?? "");
      if (scale) return { code: 200, body: writeScale(ctx.store, ref, body(), write, true) };
      const existed = ctx.store.find(ref) !== undefined;
      const obj = patch(ctx.store, ref, ct, raw, write, status);
      return { code: existed || write.dryRun ? 200 : 201, body: obj };
    }
    case "DELETE":
      return { code: 200, body: remove(ctx.store, ref, write) };
  }
  throw methodNotAllowed(method);
}

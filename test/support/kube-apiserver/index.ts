// A kube-apiserver TEST DOUBLE — not Kubernetes. No kube-apiserver can be installed on this
// machine, so tests drive the real `kubectl` binary against this plain-HTTP server on 127.0.0.1.
// It reports itself as gitVersion "v1.32.0-amphi-test-double".
//
// Implements (enough for kubectl 1.32 get/apply/delete/patch/scale/rollout status):
// - discovery: /version, /api, /apis (aggregated apidiscovery.k8s.io/v2 when asked, else the legacy
//   documents), /api/v1, /apis/apps/v1 — namespaces, services, configmaps, secrets, pods (core/v1)
//   and deployments (apps/v1, with status and scale subresources);
// - /openapi/v3: operations only (see openapi.ts), so `kubectl apply` validates with
//   fieldValidation=Strict instead of failing to download OpenAPI; /openapi/v2 is 404;
// - get, list (labelSelector: =, ==, !=, in, notin, exists, !exists; fieldSelector: metadata.name,
//   metadata.namespace), watch, create, replace, delete, deletecollection, and PATCH as server-side
//   apply (conflicts, force, managedFields), merge, strategic merge and JSON patch; dryRun=All;
//   JSON bodies, and protobuf bodies for the `kubectl create <kind>` generators (protobuf.ts);
// - bookkeeping: uid, creationTimestamp, one global resourceVersion bumped on every write and not on
//   no-op writes, generation bumped on Deployment spec changes, status kept across main-resource
//   writes, defaults (defaults.ts), validation of names, labels, Deployment selector/containers,
//   Service ports (validate.ts), namespaces must exist, Status errors worded like the real server;
// - test controls: autoReady, setDeploymentStatus, forbid (403), write (as any manager), objects,
//   requests log;
// - `kubectl get` tables (server-side printing of the main columns, table.ts);
// Does not implement: authentication, RBAC and admission (any caller is `user`; 403 only through
// forbid()), TLS, protobuf responses, OpenAPI schemas (unknown fields are kept, not rejected; field
// ownership follows the few list/map rules in fieldset.ts, not real schemas), controllers (no
// ReplicaSets or Pods appear; status changes only through autoReady or setDeploymentStatus),
// finalizers and graceful deletion (deletes are immediate; a namespace is Terminating for 50 ms,
// refusing new content, then goes with its contents), a watch history beyond the last 10,000 changes
// (older resourceVersions get 410 Expired), pagination (`limit` is ignored), API groups other than core/v1 and
// apps/v1.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { RESOURCE_TYPES, groupVersion, typeForKind, type ResourceType } from "./catalog.js";
import { isObj, type Obj } from "./fieldset.js";
import { discoveryReply, parseResourcePath, resourceReply, type Reply, type RouteContext } from "./routes.js";
import { ApiError, badRequest, forbidden, pathNotFound } from "./status.js";
import { decodeProtobufObject, isProtobuf } from "./protobuf.js";
import { Store, type Ref } from "./store.js";
import { Watches } from "./watch.js";
import { create, patch, replace, type WriteRequest } from "./writes.js";
import { readyDeploymentStatus, seed } from "./controls.js";

export { readyDeploymentStatus } from "./controls.js";
export { DOUBLE_GIT_VERSION } from "./discovery.js";

/** Options for startKubeApiServer. */
export interface KubeApiServerOptions {
  /** Answer aggregated discovery when kubectl asks for it (default true); false exercises the
   * legacy per-group discovery documents. */
  aggregatedDiscovery?: boolean;
  /** Mark Deployments available right after each write (default false). */
  autoReady?: boolean;
  /** The user named in Forbidden messages (default "amphi-test"). */
  user?: string;
  /** Clock for timestamps (default: the system clock). */
  now?: () => Date;
  /** Namespaces to create at start, besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
}

/** One request the double answered. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  accept: string | undefined;
  userAgent: string | undefined;
  code: number;
}

/** A running double. */
export interface KubeApiDouble {
  /** http://127.0.0.1:<port>, for a kubeconfig's `server`. */
  readonly url: string;
  readonly port: number;
  /** When true, every Deployment write is followed by a status write marking it available. */
  autoReady: boolean;
  /** How long a deleted namespace stays Terminating (default 50 ms); a test that checks the Terminating
   * phase sets it long enough not to depend on the machine's speed. */
  namespaceTerminationMs: number;
  /** Every request answered, in order (tests count kubectl's calls with it). */
  readonly requests: RecordedRequest[];
  /** Copies of stored objects, optionally of one kind and/or namespace. */
  objects(filter?: { kind?: string; namespace?: string }): Obj[];
  /** A copy of one stored object (kind as in the object, e.g. "Deployment"), or undefined. */
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined;
  /** Writes `obj` as `manager`: a server-side apply when `apply` is true (with `force`), else a
   * create or replace (operation Update). Returns the stored object. */
  write(obj: Obj, opts?: { manager?: string; apply?: boolean; force?: boolean }): Obj;
  /** Replaces a Deployment's status (as kube-controller-manager on the status subresource). */
  setDeploymentStatus(namespace: string, name: string, status: Obj): Obj;
  /** Answers 403 Forbidden to `verb` ("get", "list", "patch", …, or "*") on `resource` (plural,
   * e.g. "deployments", or "*"), in `namespace` if given. */
  forbid(verb: string, resource: string, namespace?: string): void;
  /** Lifts every forbid(). */
  allowAll(): void;
  /** Stops the server and ends open watches. */
  close(): Promise<void>;
}

interface Rule { verb: string; resource: string; namespace: string | undefined }

function refFor(obj: Obj): Ref {
  const type = typeForKind(String(obj.apiVersion), String(obj.kind));
  if (!type) throw badRequest(`no ${String(obj.kind)} in ${String(obj.apiVersion)} is served by the double`);
  const md = isObj(obj.metadata) ? obj.metadata : {};
  return { type, namespace: type.namespaced ? String(md.namespace ?? "default") : undefined, name: String(md.name) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.code, { "Content-Type": reply.contentType ?? "application/json", "Cache-Control": reply.cacheControl ?? "no-cache, private" });
  res.end(text);
}

/** Starts a kube-apiserver double on 127.0.0.1 (a free port). */
export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiDouble> {
  const store = new Store(opts.now ?? (() => new Date()));
  const watches = new Watches();
  const rules: Rule[] = [];
  const requests: RecordedRequest[] = [];
  const user = opts.user ?? "amphi-test";
  seed(store, ["default", "kube-system", "kube-public", "kube-node-lease", ...(opts.namespaces ?? [])]);

  const ctx: RouteContext = {
    store,
    watches,
    aggregatedDiscovery: opts.aggregatedDiscovery ?? true,
    hostPort: "",
    authorize(verb, type, namespace, name) {
      const hit = rules.some((r) => (r.verb === "*" || r.verb === verb) && (r.resource === "*" || r.resource === type.resource) &&
        (r.namespace === undefined || r.namespace === namespace));
      if (hit) throw forbidden({ resource: type.resource, group: type.group, name }, verb, namespace, user);
    },
  };

  const double = {} as KubeApiDouble;
  const afterWrite = (ref: Ref) => {
    if (!double.autoReady || ref.type.kind !== "Deployment") return;
    const obj = store.find(ref);
    if (obj) double.setDeploymentStatus(ref.namespace!, ref.name, readyDeploymentStatus(obj, store.timestamp()));
  };

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const url = new URL(req.url ?? "/", "http://double");
      let reply: Reply | undefined;
      try {
        // kubectl's typed clients (the `kubectl create <kind>` generators) send protobuf
        const raw = isProtobuf(req.headers["content-type"]) ? JSON.stringify(decodeProtobufObject(body)) : body.toString("utf8");
        reply = discoveryReply(url.pathname, req.headers.accept, ctx);
        if (!reply) {
          const p = parseResourcePath(url.pathname);
          if (!p) throw pathNotFound();
          reply = resourceReply(ctx, p, req, res, url.searchParams, raw);
          const dryRun = url.searchParams.getAll("dryRun").includes("All");
          if (reply && reply.code < 300 && req.method !== "GET" && !dryRun && p.name) afterWrite({ type: p.type, namespace: p.namespace, name: p.name });
        }
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(500, "InternalError", `Internal error occurred: ${(e as Error).stack ?? String(e)}`);
        reply = { code: err.code, body: err.toStatus() };
      }
      requests.push({
        method: req.method ?? "GET",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers["content-type"],
        accept: req.headers.accept,
        userAgent: req.headers["user-agent"],
        code: reply?.code ?? 200,
      });
      if (reply) send(res, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  ctx.hostPort = `127.0.0.1:${port}`;

  const writeReq = (manager: string, force = false): WriteRequest => ({ dryRun: false, fieldManager: manager, force });
  const typeByKind = (kind: string): ResourceType | undefined => RESOURCE_TYPES.find((t) => t.kind === kind);
  // An accessor (Object.assign would copy its value once): the store reads it at each namespace delete.
  Object.defineProperty(double, "namespaceTerminationMs", {
    get: () => store.namespaceTerminationMs,
    set: (ms: number) => void (store.namespaceTerminationMs = ms),
    enumerable: true,
  });
  Object.assign(double, {
    url: `http://127.0.0.1:${port}`,
    port,
    autoReady: opts.autoReady ?? false,
    requests,
    objects(filter: { kind?: string; namespace?: string } = {}) {
      return store.all()
        .filter(({ ref }) => (!filter.kind || ref.type.kind === filter.kind) && (!filter.namespace || ref.namespace === filter.namespace))
        .map(({ obj }) => obj);
    },
    get(kind: string, namespace: string | undefined, name: string) {
      const type = typeByKind(kind);
      return type ? store.find({ type, namespace: type.namespaced ? namespace : undefined, name }) : undefined;
    },
    write(obj: Obj, o: { manager?: string; apply?: boolean; force?: boolean } = {}) {
      const ref = refFor(obj);
      const req = writeReq(o.manager ?? "amphi-test-helper", o.force);
      if (o.apply) return patch(store, ref, "application/apply-patch+yaml", JSON.stringify(obj), req);
      const live = store.find(ref);
      return live ? replace(store, ref, { ...obj, metadata: { ...(obj.metadata as Obj), resourceVersion: undefined } }, req) : create(store, ref, obj, req);
    },
    setDeploymentStatus(namespace: string, name: string, status: Obj) {
      const ref = { type: typeByKind("Deployment")!, namespace, name };
      const live = store.get(ref);
      return replace(store, ref, { ...live, status, apiVersion: groupVersion(ref.type) }, writeReq("kube-controller-manager"), "status");
    },
    forbid(verb: string, resource: string, namespace?: string) {
      rules.push({ verb, resource, namespace });
    },
    allowAll() {
      rules.length = 0;
    },
    async close() {
      store.dispose();
      watches.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return double;
}

// The write verbs on top of the store: create (POST), replace (PUT), patch (server-side apply,
// merge and strategic merge) and delete, plus the status and scale subresources. Each works out
// the new object and who manages which field, then hands it to Store.commit.
import { load } from "js-yaml";
import { serverSideApply } from "./apply.js";
import { deepEqual, isObj, type Obj } from "./fieldset.js";
import { readManagers, recordUpdate, type Manager } from "./managed.js";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.js";
import { ApiError, alreadyExists, badRequest, notFound, staleConflict, unsupportedMediaType } from "./status.js";
import { meta, subject, type Ref, type Store, type WriteOptions } from "./store.js";
import { findType, groupVersion } from "./catalog.js";

/** A write's options as the request gave them. */
export interface WriteRequest extends WriteOptions {
  fieldManager: string; // from the fieldManager query parameter, else derived from the User-Agent
  force: boolean;
}

const NAMESPACES = findType("", "v1", "namespaces")!;

function requireNamespace(store: Store, ref: Ref): void {
  if (ref.namespace === undefined) return;
  const ns = store.find({ type: NAMESPACES, namespace: undefined, name: ref.namespace });
  if (!ns) throw notFound({ resource: "namespaces", group: "", name: ref.namespace });
  if (meta(ns).deletionTimestamp) {
    const what = `${ref.type.group ? `${ref.type.resource}.${ref.type.group}` : ref.type.resource} "${ref.name}"`;
    throw new ApiError(403, "Forbidden", `${what} is forbidden: unable to create new content in namespace ${ref.namespace} because it is being terminated`, {
      name: ref.name, ...(ref.type.group ? { group: ref.type.group } : {}), kind: ref.type.resource,
    });
  }
}

function checkIdentity(ref: Ref, body: Obj): void {
  const md = meta(body);
  if (md.name !== undefined && md.name !== ref.name) {
    throw badRequest(`the name of the object (${String(md.name)}) does not match the name on the URL (${ref.name})`);
  }
  if (ref.namespace !== undefined && md.namespace !== undefined && md.namespace !== ref.namespace) {
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  const gv = groupVersion(ref.type);
  if ((body.apiVersion !== undefined && body.apiVersion !== gv) || (body.kind !== undefined && body.kind !== ref.type.kind)) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) and kind (${String(body.kind)}) do not match the resource ${gv}, Kind=${ref.type.kind}`);
  }
}

function updater(req: WriteRequest, ref: Ref, time: string, subresource?: string): Omit<Manager, "set"> {
  return { manager: req.fieldManager, operation: "Update", apiVersion: groupVersion(ref.type), time, ...(subresource ? { subresource } : {}) };
}

/** Managers to start an Update from: the ones sent in the body if it carries managedFields (a client
 * may reset them with []), else the stored ones. */
function baseManagers(before: Obj | undefined, body: Obj): Manager[] {
  return Array.isArray(meta(body).managedFields) ? readManagers(body) : readManagers(before);
}

/** POST: creates `body` as `ref` (the name comes from the body or its generateName). */
export function create(store: Store, ref: Ref, body: Obj, req: WriteRequest): Obj {
  requireNamespace(store, ref);
  checkIdentity(ref, body);
  if (store.find(ref)) throw alreadyExists(subject(ref));
  const after = structuredClone(body);
  if (ref.type.hasStatus) delete after.status;
  const md = meta(after);
  for (const k of ["uid", "resourceVersion", "generation", "creationTimestamp"]) delete md[k];
  const who = updater(req, ref, store.timestamp());
  return store.commit(ref, undefined, after, req, (obj) => recordUpdate(baseManagers(undefined, body), undefined, obj, who));
}

/** PUT: replaces the object; a stale metadata.resourceVersion is a 409 Conflict. */
export function replace(store: Store, ref: Ref, body: Obj, req: WriteRequest, subresource?: "status"): Obj {
  checkIdentity(ref, body);
  const before = store.get(ref);
  const rv = meta(body).resourceVersion;
  if (rv !== undefined && rv !== "" && rv !== meta(before).resourceVersion) throw staleConflict(subject(ref));
  let after = structuredClone(body);
  if (subresource === "status") after = { ...before, status: after.status };
  else if (ref.type.hasStatus) after.status = before.status;
  const who = updater(req, ref, store.timestamp(), subresource);
  return store.commit(ref, before, after, req, (obj) => recordUpdate(baseManagers(before, body), before, obj, who));
}

const PATCHERS: Record<string, (target: unknown, patch: unknown) => unknown> = {
  "application/merge-patch+json": mergePatch,
  "application/strategic-merge-patch+json": (t, p) => strategicMergePatch(t, p),
  "application/json-patch+json": jsonPatch,
};

/** PATCH with any supported content type; an apply patch creates the object when missing. */
export function patch(store: Store, ref: Ref, contentType: string, raw: string, req: WriteRequest, subresource?: "status"): Obj {
  const type = contentType.split(";")[0]!.trim();
  if (type === "application/apply-patch+yaml") return apply(store, ref, raw, req, subresource);
  const patcher = PATCHERS[type];
  if (!patcher) throw unsupportedMediaType(type);
  const body = parseBody(raw, "json");
  const before = store.get(ref);
  const patched = patcher(before, body);
  if (!isObj(patched)) throw badRequest("the patch did not produce an object");
  checkIdentity(ref, patched);
  const rv = meta(patched).resourceVersion; // a patch that sets it asks for optimistic concurrency
  if (rv !== undefined && rv !== meta(before).resourceVersion) throw staleConflict(subject(ref));
  let after = patched;
  if (subresource === "status") after = { ...before, status: patched.status };
  else if (ref.type.hasStatus) after.status = before.status;
  // A patch that changes managedFields sets them (kubectl does so when it migrates client-side apply).
  const sent = !deepEqual(meta(patched).managedFields, meta(before).managedFields);
  const who = updater(req, ref, store.timestamp(), subresource);
  return store.commit(ref, before, after, req, (obj) => recordUpdate(sent ? readManagers(patched) : readManagers(before), before, obj, who));
}

function apply(store: Store, ref: Ref, raw: string, req: WriteRequest, subresource?: "status"): Obj {
  if (!req.fieldManager) {
    throw new ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  }
  const config = parseBody(raw, "yaml");
  if (!isObj(config)) throw badRequest("error decoding YAML: the applied configuration is not an object");
  checkIdentity(ref, config);
  if (config.apiVersion === undefined || config.kind === undefined) {
    throw badRequest("Object 'Kind' is missing in the applied configuration");
  }
  if (isObj(config.metadata) && config.metadata.managedFields !== undefined) {
    throw badRequest("metadata.managedFields must be nil");
  }
  const before = store.find(ref);
  if (!before) {
    if (subresource) throw notFound(subject(ref));
    requireNamespace(store, ref);
  }
  if (ref.type.hasStatus && subresource !== "status") delete config.status;
  const result = serverSideApply({
    live: before,
    config,
    manager: req.fieldManager,
    force: req.force,
    time: store.timestamp(),
    ...(subresource ? { subresource } : {}),
  });
  let after = result.merged;
  if (subresource === "status") after = { ...before, status: after.status };
  else if (!before && ref.type.hasStatus) delete after.status;
  return store.commit(ref, before, after, req, () => result.managers);
}

/** DELETE: removes the object. A namespace turns Terminating and goes, with everything in it,
 * store.namespaceTerminationMs later (as the namespace controller would), so `kubectl delete -f` of a
 * namespace and its contents deletes them all. */
export function remove(store: Store, ref: Ref, req: WriteOptions): Obj {
  if (ref.type === NAMESPACES) return terminateNamespace(store, ref, req);
  const obj = store.remove(ref, req);
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name: ref.name, ...(ref.type.group ? { group: ref.type.group } : {}), kind: ref.type.resource, uid: meta(obj).uid } };
}

function terminateNamespace(store: Store, ref: Ref, req: WriteOptions): Obj {
  const before = store.get(ref);
  if (meta(before).deletionTimestamp) return before;
  const after = structuredClone(before);
  meta(after).deletionTimestamp = store.timestamp();
  meta(after).deletionGracePeriodSeconds = 0;
  after.status = { ...(isObj(after.status) ? after.status : {}), phase: "Terminating" };
  const out = store.commit(ref, before, after, req, () => readManagers(before));
  if (!req.dryRun) {
    store.later(store.namespaceTerminationMs, () => {
      for (const { ref: r } of store.all()) if (r.namespace === ref.name) store.remove(r, req);
      if (store.find(ref)) store.remove(ref, req);
    });
  }
  return out;
}

/** The autoscaling/v1 Scale view of a Deployment. */
export function scaleOf(obj: Obj): Obj {
  const md = meta(obj);
  const spec = (obj.spec ?? {}) as Obj;
  const status = (obj.status ?? {}) as Obj;
  const labels = isObj(spec.selector) && isObj(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: md.name, namespace: md.namespace, uid: md.uid, resourceVersion: md.resourceVersion, creationTimestamp: md.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(",") },
  };
}

/** PUT or merge PATCH of the scale subresource: changes spec.replicas only. */
export function writeScale(store: Store, ref: Ref, body: Obj, req: WriteRequest, isPatch: boolean): Obj {
  const before = store.get(ref);
  const next = (isPatch ? mergePatch(scaleOf(before), body) : body) as Obj;
  const replicas = isObj(next.spec) ? next.spec.replicas : undefined;
  if (typeof replicas !== "number") throw badRequest("spec.replicas: Required value");
  const after = structuredClone(before);
  (after.spec as Obj).replicas = replicas;
  const who = updater(req, ref, store.timestamp(), "scale");
  return scaleOf(store.commit(ref, before, after, req, (obj) => recordUpdate(readManagers(before), before, obj, who)));
}

/** Parses a request body: JSON, or YAML for apply patches (JSON is valid YAML). */
export function parseBody(raw: string, as: "json" | "yaml"): unknown {
  try {
    return as === "json" ? JSON.parse(raw) : load(raw);
  } catch (e) {
    throw badRequest(`error decoding ${as === "json" ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`);
  }
}

// OpenAPI v3 for the kube-apiserver double: only what kubectl reads from it, not the schemas.
//
// kubectl apply (any mode, with the default --validate=strict) asks /openapi/v3 whether the PATCH
// operation of each object's group/version/kind takes the `fieldValidation` query parameter. If it
// does, kubectl sends `fieldValidation=Strict` and leaves validation to the server; if /openapi/v3
// and /openapi/v2 both fail, apply stops with "failed to download openapi". So each group/version
// document lists, per kind, the item path with a PATCH operation carrying the
// `x-kubernetes-group-version-kind` extension and the query parameters — and no schemas.
//
// The PATCH request body deliberately omits `application/strategic-merge-patch+json`: client-side
// `kubectl apply` would otherwise try to compute its patch from OpenAPI schemas (which are not
// served) and print a warning; without it kubectl uses its compiled-in types, as it does for
// servers whose OpenAPI lacks a kind. /openapi/v2 is not served (404).
import { createHash } from "node:crypto";
import { GROUP_VERSIONS, RESOURCE_TYPES, groupVersion, type ResourceType } from "./catalog.js";
import { DOUBLE_GIT_VERSION } from "./discovery.js";

const PATCH_QUERY_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"];
const WRITE_QUERY_PARAMS = ["dryRun", "fieldManager", "fieldValidation", "pretty"];

function urlPrefix(gv: string): string {
  return gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
}

/** A stable tag for a group/version document (its content never changes within a version). */
function docHash(gv: string): string {
  return createHash("sha256").update(`${DOUBLE_GIT_VERSION}/${gv}`).digest("hex").slice(0, 32).toUpperCase();
}

/** The /openapi/v3 root: one entry per group/version, pointing at its document. */
export function openApiV3Root(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of GROUP_VERSIONS) {
    paths[urlPrefix(gv)] = { serverRelativeURL: `/openapi/v3/${urlPrefix(gv)}?hash=${docHash(gv)}` };
  }
  return { paths };
}

function queryParams(names: string[]): object[] {
  return names.map((name) => ({ name, in: "query", schema: { type: name === "force" ? "boolean" : "string" } }));
}

function operation(t: ResourceType, action: string, params: string[], bodyTypes?: string[]): object {
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const obj = { schema: { type: "object" } };
  return {
    operationId: `${action}${t.kind}`,
    parameters: queryParams(params),
    ...(bodyTypes ? { requestBody: { content: Object.fromEntries(bodyTypes.map((ct) => [ct, obj])) } } : {}),
    responses: { "200": { description: "OK", content: { "application/json": obj } } },
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
  };
}

function itemPath(t: ResourceType): string {
  const ns = t.namespaced ? "namespaces/{namespace}/" : "";
  return `/${urlPrefix(groupVersion(t))}/${ns}${t.resource}/{name}`;
}

/** The OpenAPI v3 document for `api/v1` or `apis/apps/v1`, or undefined if not served. */
export function openApiV3Doc(prefix: string): object | undefined {
  const gv = GROUP_VERSIONS.find((g) => urlPrefix(g) === prefix);
  if (!gv) return undefined;
  const paths: Record<string, object> = {};
  for (const t of RESOURCE_TYPES.filter((r) => groupVersion(r) === gv)) {
    const pathParams = [{ name: "name", in: "path", required: true, schema: { type: "string" } }];
    if (t.namespaced) pathParams.push({ name: "namespace", in: "path", required: true, schema: { type: "string" } });
    paths[itemPath(t)] = {
      get: operation(t, "get", ["pretty"]),
      put: operation(t, "put", WRITE_QUERY_PARAMS, ["application/json"]),
      patch: operation(t, "patch", PATCH_QUERY_PARAMS, [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
      ]),
      delete: operation(t, "delete", ["dryRun", "gracePeriodSeconds", "propagationPolicy", "pretty"]),
      parameters: pathParams,
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes (amphi test double: operations only, no schemas)", version: DOUBLE_GIT_VERSION },
    paths,
    components: { schemas: {} },
  };
}

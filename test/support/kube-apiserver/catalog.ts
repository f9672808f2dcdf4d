// The resource types the kube-apiserver double serves: one entry per plural resource, with what
// discovery advertises (kind, scope, verbs, short names) and how server-side apply treats its lists.

/** One served resource type, as discovery describes it. */
export interface ResourceType {
  group: string; // "" for the core group
  version: string;
  resource: string; // plural, as in URLs
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: { name: string; kind: string; group: string; version: string; verbs: string[] }[];
  /** Whether metadata.generation is kept and bumped on spec changes (true for workloads). */
  hasGeneration: boolean;
  /** Whether `status` is a subresource: writes to the main resource keep the stored status. */
  hasStatus: boolean;
}

const RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS = ["get", "patch", "update"];

function sub(name: string, kind: string, group = "", version = "v1") {
  return { name, kind, group, version, verbs: STATUS_VERBS };
}

function core(resource: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType {
  return {
    group: "",
    version: "v1",
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced: true,
    shortNames: [],
    categories: [],
    verbs: RW,
    subresources: [],
    hasGeneration: false,
    hasStatus: false,
    ...extra,
  };
}

/** Every resource type the double serves, in discovery order. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  core("namespaces", "Namespace", {
    namespaced: false,
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: [sub("status", "Namespace")],
    hasStatus: true,
  }),
  core("services", "Service", {
    shortNames: ["svc"],
    categories: ["all"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: [sub("status", "Service")],
    hasStatus: true,
  }),
  core("configmaps", "ConfigMap", { shortNames: ["cm"] }),
  core("secrets", "Secret"),
  core("pods", "Pod", {
    shortNames: ["po"],
    categories: ["all"],
    subresources: [sub("status", "Pod")],
    hasStatus: true,
  }),
  {
    ...core("deployments", "Deployment"),
    group: "apps",
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: [sub("status", "Deployment", "apps"), sub("scale", "Scale", "autoscaling")],
    hasGeneration: true,
    hasStatus: true,
  },
];

/** The API versions served, as `group/version` ("v1" for core), in discovery order. */
export const GROUP_VERSIONS = ["v1", "apps/v1"] as const;

/** "v1" for the core group, "apps/v1" otherwise. */
export function groupVersion(t: { group: string; version: string }): string {
  return t.group === "" ? t.version : `${t.group}/${t.version}`;
}

/** The type served at `group/version/resource`, if any. */
export function findType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.resource === resource);
}

/** The type of objects with this apiVersion and kind, if served. */
export function typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => groupVersion(t) === apiVersion && t.kind === kind);
}

/** Qualified resource name as the apiserver prints it in messages: "deployments.apps", "services". */
export function qualified(t: ResourceType): string {
  return t.group === "" ? t.resource : `${t.resource}.${t.group}`;
}

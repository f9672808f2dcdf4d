// Discovery documents for the kube-apiserver double: /version, the legacy documents (/api, /apis,
// /api/v1, /apis/apps/v1) and the aggregated form (apidiscovery.k8s.io/v2) that kubectl 1.32 asks
// for first on /api and /apis. All are built from catalog.ts.
import { GROUP_VERSIONS, RESOURCE_TYPES, groupVersion, type ResourceType } from "./catalog.js";

/** The version string the double reports, so nobody mistakes it for a real cluster. */
export const DOUBLE_GIT_VERSION = "v1.32.0-amphi-test-double";

/** Content type of aggregated discovery responses (what kubectl 1.32 lists first in Accept). */
export const AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/** The /version document. */
export function versionInfo(): object {
  return {
    major: "1",
    minor: "32",
    gitVersion: DOUBLE_GIT_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: `none (node ${process.version})`,
    compiler: "gc",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

/** Whether an Accept header asks for aggregated discovery v2 (v2beta1 alone is not served). */
export function wantsAggregated(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => {
    const p = part.replace(/\s+/g, "");
    return p.includes("g=apidiscovery.k8s.io") && p.includes("v=v2;") && p.includes("as=APIGroupDiscoveryList");
  });
}

/** Legacy /api: the core versions. */
export function apiVersions(hostPort: string): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: hostPort }],
  };
}

/** Legacy /apis: the named groups. */
export function apiGroupList(): object {
  const groups = GROUP_VERSIONS.filter((gv) => gv.includes("/")).map((gv) => {
    const [name, version] = gv.split("/") as [string, string];
    const v = { groupVersion: gv, version };
    return { name, versions: [v], preferredVersion: v };
  });
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** Legacy /api/v1 or /apis/<group>/<version>: an APIResourceList, or undefined if not served. */
export function apiResourceList(gv: string): object | undefined {
  const types = RESOURCE_TYPES.filter((t) => groupVersion(t) === gv);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((t) => [
    {
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
    },
    ...t.subresources.map((s) => ({
      name: `${t.resource}/${s.name}`,
      singularName: "",
      namespaced: t.namespaced,
      ...(s.group !== t.group ? { group: s.group, version: s.version } : {}),
      kind: s.kind,
      verbs: s.verbs,
    })),
  ]);
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources };
}

function aggregatedResource(t: ResourceType): object {
  return {
    resource: t.resource,
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs: t.verbs,
    ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length ? { categories: t.categories } : {}),
    subresources: t.subresources.map((s) => ({
      subresource: s.name,
      responseKind: { group: s.group, version: s.version, kind: s.kind },
      verbs: s.verbs,
    })),
  };
}

/** Aggregated discovery for /api (core = true) or /apis (core = false). */
export function aggregatedDiscovery(core: boolean): object {
  const gvs = GROUP_VERSIONS.filter((gv) => gv.includes("/") !== core);
  const byGroup = new Map<string, string[]>();
  for (const gv of gvs) {
    const group = gv.includes("/") ? gv.split("/")[0]! : "";
    byGroup.set(group, [...(byGroup.get(group) ?? []), gv]);
  }
  const items = [...byGroup].map(([group, versions]) => ({
    metadata: { name: group, creationTimestamp: null },
    versions: versions.map((gv) => ({
      version: gv.split("/").at(-1),
      resources: RESOURCE_TYPES.filter((t) => groupVersion(t) === gv).map(aggregatedResource),
      freshness: "Current",
    })),
  }));
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}

// Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for when it prints for
// people: the columns the real apiserver prints for the served kinds (priority 1 = `-o wide`), and
// each row's object as PartialObjectMetadata (kubectl reads labels and namespace from it).
import type { ResourceType } from "./catalog.js";
import { isObj, type Obj } from "./fieldset.js";

type Column = [name: string, type: "string" | "integer", priority: 0 | 1, cell: (o: Obj, now: Date) => unknown];

/** Whether an Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((p) => p.replace(/\s+/g, "").includes("as=Table") && p.includes("g=meta.k8s.io"));
}

/** kubectl's HumanDuration: "45s", "3m20s", "2h15m", "3d4h", … */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 ? `${Math.floor(h / 24)}d${h % 24}h` : `${h / 24}d`;
  return `${Math.floor(h / 24)}d`;
}

const md = (o: Obj) => (isObj(o.metadata) ? o.metadata : {});
const spec = (o: Obj) => (isObj(o.spec) ? o.spec : {});
const status = (o: Obj) => (isObj(o.status) ? o.status : {});
const num = (v: unknown) => (typeof v === "number" ? v : 0);
const age: Column = ["Age", "string", 0, (o, now) => humanDuration(now.getTime() - Date.parse(String(md(o).creationTimestamp)))];
const labels = (v: unknown) => (isObj(v) ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(",") : "") || "<none>";
const containers = (o: Obj): Obj[] => {
  const t = spec(o).template;
  const list = isObj(t) && isObj(t.spec) ? t.spec.containers : [];
  return Array.isArray(list) ? list.filter(isObj) : [];
};

const COLUMNS: Record<string, Column[]> = {
  Deployment: [
    ["Ready", "string", 0, (o) => `${num(status(o).readyReplicas)}/${num(spec(o).replicas)}`],
    ["Up-to-date", "integer", 0, (o) => num(status(o).updatedReplicas)],
    ["Available", "integer", 0, (o) => num(status(o).availableReplicas)],
    age,
    ["Containers", "string", 1, (o) => containers(o).map((c) => c.name).join(",")],
    ["Images", "string", 1, (o) => containers(o).map((c) => c.image).join(",")],
    ["Selector", "string", 1, (o) => { const s = spec(o).selector; return labels(isObj(s) ? s.matchLabels : undefined); }],
  ],
  Service: [
    ["Type", "string", 0, (o) => spec(o).type],
    ["Cluster-IP", "string", 0, (o) => spec(o).clusterIP ?? "<none>"],
    ["External-IP", "string", 0, () => "<none>"],
    ["Port(s)", "string", 0, (o) => (Array.isArray(spec(o).ports) ? (spec(o).ports as Obj[]) : []).map((p) => `${String(p.port)}/${String(p.protocol ?? "TCP")}`).join(",") || "<none>"],
    age,
    ["Selector", "string", 1, (o) => labels(spec(o).selector)],
  ],
  Namespace: [["Status", "string", 0, (o) => status(o).phase], age],
  ConfigMap: [["Data", "integer", 0, (o) => Object.keys(isObj(o.data) ? o.data : {}).length + Object.keys(isObj(o.binaryData) ? o.binaryData : {}).length], age],
  Secret: [["Type", "string", 0, (o) => o.type], ["Data", "integer", 0, (o) => Object.keys(isObj(o.data) ? o.data : {}).length], age],
  Pod: [["Status", "string", 0, (o) => status(o).phase], age],
};

/** A Table of `objects` of `type`, as the apiserver answers `Accept: …;as=Table;…`. */
export function toTable(type: ResourceType, objects: Obj[], resourceVersion: string, now: Date): Obj {
  const columns: Column[] = [["Name", "string", 0, (o) => md(o).name], ...(COLUMNS[type.kind] ?? [age])];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: columns.map(([name, t, priority]) => ({
      name, type: t, format: name === "Name" ? "name" : "", description: "", priority,
    })),
    rows: objects.map((o) => ({
      cells: columns.map(([, , , cell]) => cell(o, now)),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: md(o) },
    })),
  };
}

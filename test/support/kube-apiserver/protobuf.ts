// Decodes the Kubernetes protobuf request bodies kubectl sends from its typed clients — in practice
// the `kubectl create namespace|configmap|secret|deployment|service` generators, which POST
// `application/vnd.kubernetes.protobuf` (the "k8s\0" magic, then a runtime.Unknown envelope).
// Only the fields those generators (and common hand-written objects) set are in the tables below;
// other fields are dropped. Like the Go JSON encoder, zero values of non-pointer fields are left out.
import { badRequest } from "./status.js";
import type { Obj } from "./fieldset.js";

type Scalar = "string" | "bytes" | "int" | "bool" | "ptrint" | "ptrbool" | "time" | "ios" | "qty";
type FieldType = Scalar | `map:${"string" | "bytes" | "qty"}` | `[]${string}` | `msg:${string}`;

// field number → [JSON name, type]; message names follow the .proto files.
const MESSAGES: Record<string, Record<number, [string, FieldType]>> = {
  Unknown: { 1: ["typeMeta", "msg:TypeMeta"], 2: ["raw", "bytes"], 3: ["contentEncoding", "string"], 4: ["contentType", "string"] },
  TypeMeta: { 1: ["apiVersion", "string"], 2: ["kind", "string"] },
  ObjectMeta: {
    1: ["name", "string"], 2: ["generateName", "string"], 3: ["namespace", "string"], 5: ["uid", "string"],
    6: ["resourceVersion", "string"], 7: ["generation", "int"], 8: ["creationTimestamp", "time"],
    11: ["labels", "map:string"], 12: ["annotations", "map:string"], 14: ["finalizers", "[]string"],
  },
  LabelSelector: { 1: ["matchLabels", "map:string"], 2: ["matchExpressions", "[]LabelSelectorRequirement"] },
  LabelSelectorRequirement: { 1: ["key", "string"], 2: ["operator", "string"], 3: ["values", "[]string"] },
  Namespace: { 1: ["metadata", "msg:ObjectMeta"], 2: ["spec", "msg:NamespaceSpec"], 3: ["status", "msg:NamespaceStatus"] },
  NamespaceSpec: { 1: ["finalizers", "[]string"] },
  NamespaceStatus: { 1: ["phase", "string"] },
  ConfigMap: { 1: ["metadata", "msg:ObjectMeta"], 2: ["data", "map:string"], 3: ["binaryData", "map:bytes"], 4: ["immutable", "ptrbool"] },
  Secret: {
    1: ["metadata", "msg:ObjectMeta"], 2: ["data", "map:bytes"], 3: ["type", "string"], 4: ["stringData", "map:string"], 5: ["immutable", "ptrbool"],
  },
  Service: { 1: ["metadata", "msg:ObjectMeta"], 2: ["spec", "msg:ServiceSpec"], 3: ["status", "msg:Empty"] },
  ServiceSpec: {
    1: ["ports", "[]ServicePort"], 2: ["selector", "map:string"], 3: ["clusterIP", "string"], 4: ["type", "string"],
    5: ["externalIPs", "[]string"], 7: ["sessionAffinity", "string"], 10: ["externalName", "string"],
  },
  ServicePort: { 1: ["name", "string"], 2: ["protocol", "string"], 3: ["port", "int"], 4: ["targetPort", "ios"], 5: ["nodePort", "int"], 6: ["appProtocol", "string"] },
  Deployment: { 1: ["metadata", "msg:ObjectMeta"], 2: ["spec", "msg:DeploymentSpec"], 3: ["status", "msg:Empty"] },
  DeploymentSpec: {
    1: ["replicas", "ptrint"], 2: ["selector", "msg:LabelSelector"], 3: ["template", "msg:PodTemplateSpec"], 4: ["strategy", "msg:DeploymentStrategy"],
    5: ["minReadySeconds", "int"], 6: ["revisionHistoryLimit", "ptrint"], 7: ["paused", "bool"], 9: ["progressDeadlineSeconds", "ptrint"],
  },
  DeploymentStrategy: { 1: ["type", "string"], 2: ["rollingUpdate", "msg:RollingUpdateDeployment"] },
  RollingUpdateDeployment: { 1: ["maxUnavailable", "ios"], 2: ["maxSurge", "ios"] },
  PodTemplateSpec: { 1: ["metadata", "msg:ObjectMeta"], 2: ["spec", "msg:PodSpec"] },
  PodSpec: {
    2: ["containers", "[]Container"], 3: ["restartPolicy", "string"], 4: ["terminationGracePeriodSeconds", "ptrint"], 6: ["dnsPolicy", "string"],
    7: ["nodeSelector", "map:string"], 8: ["serviceAccountName", "string"], 14: ["securityContext", "msg:Empty"],
    19: ["schedulerName", "string"], 20: ["initContainers", "[]Container"],
  },
  Container: {
    1: ["name", "string"], 2: ["image", "string"], 3: ["command", "[]string"], 4: ["args", "[]string"], 5: ["workingDir", "string"],
    6: ["ports", "[]ContainerPort"], 7: ["env", "[]EnvVar"], 8: ["resources", "msg:ResourceRequirements"],
    13: ["terminationMessagePath", "string"], 14: ["imagePullPolicy", "string"], 20: ["terminationMessagePolicy", "string"],
  },
  ContainerPort: { 1: ["name", "string"], 2: ["hostPort", "int"], 3: ["containerPort", "int"], 4: ["protocol", "string"] },
  EnvVar: { 1: ["name", "string"], 2: ["value", "string"] },
  ResourceRequirements: { 1: ["limits", "map:qty"], 2: ["requests", "map:qty"] },
  Empty: {},
};

const KINDS = new Set(["Namespace", "ConfigMap", "Secret", "Service", "Deployment"]);

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw badRequest("protobuf: truncated varint");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
  }
}

function scalar(t: Scalar, r: Reader, wire: number): unknown {
  if (wire === 0) {
    const v = BigInt.asIntN(64, r.varint());
    return t === "bool" || t === "ptrbool" ? v !== 0n : Number(v);
  }
  const b = r.bytes();
  if (t === "string") return b.toString("utf8");
  if (t === "bytes") return b.toString("base64");
  const m = decodeMessage(t === "time" ? "Time" : t === "ios" ? "IntOrString" : "Quantity", b);
  if (t === "time") return m.seconds ? new Date(Number(m.seconds) * 1000).toISOString().replace(/\.000Z$/, "Z") : undefined;
  if (t === "ios") return m.type === 1 ? m.strVal ?? "" : m.intVal ?? 0;
  return m.string ?? "";
}

const BUILTIN: Record<string, Record<number, [string, FieldType]>> = {
  Time: { 1: ["seconds", "int"], 2: ["nanos", "int"] },
  IntOrString: { 1: ["type", "int"], 2: ["intVal", "int"], 3: ["strVal", "string"] },
  Quantity: { 1: ["string", "string"] },
};

function isZero(t: FieldType, v: unknown): boolean {
  if (t === "ptrint" || t === "ptrbool" || t.startsWith("msg:")) return v === undefined;
  return v === undefined || v === "" || v === 0 || v === false;
}

/** Decodes one message of the named type (fields not in the tables are skipped). */
function decodeMessage(name: string, buf: Buffer): Obj {
  const fields = MESSAGES[name] ?? BUILTIN[name] ?? {};
  const out: Obj = {};
  const r = new Reader(buf);
  while (r.pos < buf.length) {
    const tag = Number(r.varint());
    const [no, wire] = [tag >>> 3, tag & 7];
    const field = fields[no];
    if (!field) { r.skip(wire); continue; }
    const [key, t] = field;
    let v: unknown;
    if (t.startsWith("msg:")) v = decodeMessage(t.slice(4), r.bytes());
    else if (t.startsWith("[]")) {
      const el = t.slice(2);
      const item = el === "string" ? r.bytes().toString("utf8") : decodeMessage(el, r.bytes());
      out[key] = [...((out[key] as unknown[]) ?? []), item];
      continue;
    } else if (t.startsWith("map:")) {
      const entry: Obj = {};
      const e = new Reader(r.bytes());
      while (e.pos < e.buf.length) {
        const etag = Number(e.varint());
        if (etag >>> 3 === 1) entry.key = e.bytes().toString("utf8");
        else if (etag >>> 3 === 2) entry.value = scalar(t.slice(4) as Scalar, e, etag & 7);
        else e.skip(etag & 7);
      }
      out[key] = { ...((out[key] as Obj) ?? {}), [String(entry.key ?? "")]: entry.value ?? "" };
      continue;
    } else v = scalar(t as Scalar, r, wire);
    if (!isZero(t, v)) out[key] = v;
    else delete out[key];
  }
  return out;
}

/** Whether a Content-Type is Kubernetes protobuf. */
export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]!.trim() === "application/vnd.kubernetes.protobuf";
}

/** Decodes a protobuf request body into the JSON object it stands for. */
export function decodeProtobufObject(body: Buffer): Obj {
  if (body.subarray(0, 4).toString("latin1") !== "k8s\0") throw badRequest("protobuf: missing k8s magic prefix");
  const unknown = decodeMessage("Unknown", body.subarray(4));
  const tm = (unknown.typeMeta ?? {}) as Obj;
  const kind = String(tm.kind ?? "");
  if (!KINDS.has(kind)) throw badRequest(`protobuf bodies are decoded for ${[...KINDS].join(", ")} only (got ${kind}); send JSON`);
  const raw = Buffer.from(String(unknown.raw ?? ""), "base64");
  return { apiVersion: tm.apiVersion, kind, ...decodeMessage(kind, raw) };
}

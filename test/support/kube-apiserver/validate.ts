// The validation the double performs before a write, worded like the apiserver's field errors:
// object and label names, a Deployment's selector/template/containers and immutable selector, a
// Service's ports and immutable clusterIP. Anything else is accepted. There are no schemas, so
// unknown fields are kept, not rejected (fieldValidation=Strict is accepted and ignored).
import { isObj, deepEqual, type Obj } from "./fieldset.js";

/** One field error: `field: detail`, e.g. `spec.selector: Required value`. */
export interface FieldError {
  field: string;
  message: string;
  reason: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueDuplicate";
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const required = (field: string): FieldError => ({ field, message: "Required value", reason: "FieldValueRequired" });
const bad = (field: string, value: unknown, detail: string): FieldError => ({
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  reason: "FieldValueInvalid",
});

function checkName(kind: string, name: unknown): FieldError[] {
  if (typeof name !== "string" || name === "") return [required("metadata.name")];
  if (kind === "Service" && !DNS1035_LABEL.test(name)) {
    return [bad("metadata.name", name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")];
  }
  if (kind === "Namespace" && !DNS1123_LABEL.test(name)) {
    return [bad("metadata.name", name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [bad("metadata.name", name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")];
  }
  return [];
}

function checkLabels(field: string, labels: unknown): FieldError[] {
  if (!isObj(labels)) return [];
  return Object.entries(labels).flatMap(([k, v]) => {
    const name = k.split("/").at(-1) ?? "";
    if (!LABEL_NAME.test(name) || name.length > 63) return [bad(field, k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")];
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) return [bad(`${field}`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")];
    return [];
  });
}

function checkContainers(field: string, list: unknown, requiredList: boolean): FieldError[] {
  if (!Array.isArray(list) || list.length === 0) return requiredList ? [required(field)] : [];
  const seen = new Set<string>();
  return list.flatMap((c, i) => {
    const at = `${field}[${i}]`;
    if (!isObj(c)) return [bad(at, c, "must be an object")];
    const errs: FieldError[] = [];
    if (typeof c.name !== "string" || c.name === "") errs.push(required(`${at}.name`));
    else if (seen.has(c.name)) errs.push({ field: `${at}.name`, message: `Duplicate value: ${JSON.stringify(c.name)}`, reason: "FieldValueDuplicate" });
    else seen.add(c.name);
    if (typeof c.image !== "string" || c.image === "") errs.push(required(`${at}.image`));
    return errs;
  });
}

function checkDeployment(obj: Obj, before: Obj | undefined): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const template = isObj(spec.template) ? spec.template : {};
  const labels = isObj(template.metadata) && isObj(template.metadata.labels) ? template.metadata.labels : {};
  const podSpec = isObj(template.spec) ? template.spec : {};
  const errs: FieldError[] = [];
  const selector = spec.selector;
  if (!isObj(selector) || (!isObj(selector.matchLabels) && !Array.isArray(selector.matchExpressions))) {
    errs.push(required("spec.selector"));
  } else {
    const want = isObj(selector.matchLabels) ? selector.matchLabels : {};
    if (Object.entries(want).some(([k, v]) => labels[k] !== v)) {
      errs.push(bad("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"));
    }
    const old = isObj(before?.spec) ? before.spec.selector : undefined;
    if (old !== undefined && !deepEqual(old, selector)) errs.push(bad("spec.selector", selector, "field is immutable"));
  }
  if (typeof spec.replicas === "number" && spec.replicas < 0) errs.push(bad("spec.replicas", spec.replicas, "must be greater than or equal to 0"));
  errs.push(...checkLabels("spec.template.metadata.labels", labels));
  errs.push(...checkContainers("spec.template.spec.containers", podSpec.containers, true));
  errs.push(...checkContainers("spec.template.spec.initContainers", podSpec.initContainers, false));
  return errs;
}

function checkService(obj: Obj, before: Obj | undefined): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errs: FieldError[] = [];
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && spec.type !== "ExternalName" && spec.clusterIP !== "None") errs.push(required("spec.ports"));
  ports.forEach((p, i) => {
    const port = isObj(p) ? p.port : undefined;
    if (typeof port !== "number" || port < 1 || port > 65535) {
      errs.push(port === undefined ? required(`spec.ports[${i}].port`) : bad(`spec.ports[${i}].port`, port, "must be between 1 and 65535, inclusive"));
    }
  });
  const oldIP = isObj(before?.spec) ? before.spec.clusterIP : undefined;
  if (oldIP !== undefined && spec.clusterIP !== undefined && spec.clusterIP !== oldIP) {
    errs.push(bad("spec.clusterIPs[0]", [spec.clusterIP], "may not change once set"));
  }
  return errs;
}

/** Every field error in `obj` (the object about to be stored, before defaulting). */
export function validateObject(obj: Obj, before: Obj | undefined): FieldError[] {
  const md = isObj(obj.metadata) ? obj.metadata : {};
  const errs = [...checkName(String(obj.kind), md.name), ...checkLabels("metadata.labels", md.labels)];
  if (obj.kind === "Deployment") errs.push(...checkDeployment(obj, before));
  if (obj.kind === "Service") errs.push(...checkService(obj, before));
  return errs;
}

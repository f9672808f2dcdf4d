// Secret redaction: which field paths hold secret values, and how values are masked before they
// reach a FieldChange. Why here: a plan is printed, posted as a PR comment and stored; the value of a
// secret must be masked where the change is made, not left to every formatter to remember.
import { SECRET_DIGEST_ANNOTATION, SECRET_ENV_ANNOTATION, SECRET_PLACEHOLDER, type Json, type K8sObject } from "../model/index.js";
import { elementSegment, isObject, type Segment } from "./paths.js";

/** What a secret value is replaced by in every FieldChange (a change is still reported): the same "(secret)" a
 * value reads as where it is not known, since actual state read with masked secrets (kubectl/read.ts) compares
 * against it. */
export const REDACTED = SECRET_PLACEHOLDER;

/** A predicate telling whether the value at a path is secret. */
export type SecretPredicate = (segments: readonly Segment[]) => boolean;

/** Names of secret env vars of a Kubernetes object, read from the `amphi.dev/secret-env` annotation
 * (comma-separated names) on the object and on its pod template. */
export function k8sSecretNames(object: K8sObject): string[] {
  const spec = object["spec"];
  const template = isObject(spec) ? spec["template"] : undefined;
  const meta = isObject(template) ? template["metadata"] : undefined;
  const annotations = isObject(meta) ? meta["annotations"] : undefined;
  const own = object.metadata.annotations?.[SECRET_ENV_ANNOTATION];
  const onTemplate = isObject(annotations) ? annotations[SECRET_ENV_ANNOTATION] : undefined;
  return [own, onTemplate].flatMap((v) => (typeof v === "string" ? splitNames(v) : []));
}

function splitNames(list: string): string[] {
  return list
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
}

/** Secret paths of a Kubernetes object: `…env[name=N].value` for the secret names, everything under
 * `data` / `stringData` of a `Secret`, and the secret-digest annotation (a keyed digest: shown only as changed). */
export function k8sSecretPredicate(kind: string, names: Iterable<string>): SecretPredicate {
  const secret = new Set(names);
  return (segments) => {
    const first = segments[0];
    if (kind === "Secret" && first && "key" in first && (first.key === "data" || first.key === "stringData")) return true;
    const last = segments[segments.length - 1];
    if (last && "key" in last && last.key === SECRET_DIGEST_ANNOTATION) return true;
    for (let i = 0; i + 2 < segments.length; i++) {
      const [list, element, field] = [segments[i]!, segments[i + 1]!, segments[i + 2]!];
      if (!("key" in list) || list.key !== "env" || "key" in element || !("key" in field)) continue;
      if (element.name !== undefined && secret.has(element.name) && field.key === "value") return true;
    }
    return false;
  };
}

/** Secret paths of a host instance: `environment.N` for every name in `secretEnv`. */
export function vmSecretPredicate(names: Iterable<string>): SecretPredicate {
  const secret = new Set(names);
  return (segments) => {
    const [first, second] = segments;
    return !!first && "key" in first && first.key === "environment" && !!second && "key" in second && secret.has(second.key);
  };
}

/** Returns `value` (found at `segments`) with every secret leaf under it replaced by {@link REDACTED}. */
export function redactDeep(value: Json | undefined, segments: readonly Segment[], isSecret: SecretPredicate): Json | undefined {
  if (value === undefined) return undefined;
  if (isSecret(segments)) return REDACTED;
  if (Array.isArray(value)) return value.map((v, i) => redactDeep(v, [...segments, elementSegment(i, v)], isSecret) ?? null);
  if (!isObject(value)) return value;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, [...segments, { key: k }], isSecret) ?? null;
  return out;
}

/** Whether a value is a masked secret ({@link REDACTED} where a secret is): an --actual file written from
 * `render --as-actual` does not know the value, nor does a plan whose secrets were not decrypted (no age
 * identity) know the desired one, so either counts as unchanged rather than as drift. */
export function isMaskedSecret(actual: Json | undefined, segments: readonly Segment[], isSecret: SecretPredicate): boolean {
  return actual === REDACTED && isSecret(segments);
}

// metav1.Status failures as the real apiserver words them, so kubectl prints real-looking errors
// ("Error from server (NotFound): deployments.apps "web" not found").
import type { FieldError } from "./validate.js";

/** A failed request: thrown inside the double, answered as a Status object with `code`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The Status body sent to the client. */
  toStatus(): object {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** What an error names: the qualified resource ("deployments.apps") and the object name. */
export interface Subject {
  resource: string; // plural, e.g. "deployments"
  group: string;
  name: string;
}

function qualified(s: Subject): string {
  return s.group ? `${s.resource}.${s.group}` : s.resource;
}

function details(s: Subject): Record<string, unknown> {
  return { name: s.name, ...(s.group ? { group: s.group } : {}), kind: s.resource };
}

/** 404 for a missing object: `deployments.apps "web" not found`. */
export function notFound(s: Subject): ApiError {
  return new ApiError(404, "NotFound", `${qualified(s)} "${s.name}" not found`, details(s));
}

/** 409 for a create of an existing object. */
export function alreadyExists(s: Subject): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualified(s)} "${s.name}" already exists`, details(s));
}

/** 409 for a write with a stale metadata.resourceVersion. */
export function staleConflict(s: Subject): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(s)} "${s.name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(s),
  );
}

/** 403 as RBAC words it; `user` is what the double pretends the caller is. */
export function forbidden(s: Subject, verb: string, namespace: string | undefined, user: string): ApiError {
  const what = s.name ? `${qualified(s)} "${s.name}"` : qualified(s);
  const scope = namespace ? `in the namespace "${namespace}"` : "at the cluster scope";
  return new ApiError(
    403,
    "Forbidden",
    `${what} is forbidden: User "${user}" cannot ${verb} resource "${s.resource}" in API group "${s.group}" ${scope}`,
    details(s),
  );
}

/** 422 with field causes, worded like apimachinery's NewInvalid. */
export function invalid(kind: string, s: Subject, causes: FieldError[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const text = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
  return new ApiError(422, "Invalid", `${kind}${s.group ? `.${s.group}` : ""} "${s.name}" is invalid: ${text}`, {
    name: s.name,
    ...(s.group ? { group: s.group } : {}),
    kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

/** 400 for a request the double cannot make sense of. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

/** 405 for a verb the double does not implement on a path. */
export function methodNotAllowed(method: string): ApiError {
  return new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method})`);
}

/** 415 for an unsupported patch content type. */
export function unsupportedMediaType(type: string): ApiError {
  return new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${type})`);
}

/** The 404 the apiserver sends for a path it does not serve. */
export function pathNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource");
}

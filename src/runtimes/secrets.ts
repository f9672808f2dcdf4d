// Secret values of any resource, through its runtime's secret hooks (absent: it carries none).
import type { Resource } from "../model/index.js";
import { hooksOf } from "./index.js";

/** `resource` with every secret value replaced by `(secret)`, by the same rules as plans: pod env values named
 * in the secret-env annotation, `data`/`stringData` of a Secret, a host instance's `secretEnv`. For output
 * that is not a plan (`amphi render --as-actual`). */
export function maskSecrets(resource: Resource): Resource {
  return hooksOf(resource.runtime).secrets?.mask(resource) ?? resource;
}

/** The secret values `resource` holds in clear (the values of a host instance's `secretEnv`), so that run
 * records can redact them; empty values are left out. */
export function secretValuesOf(resource: Resource): string[] {
  return (hooksOf(resource.runtime).secrets?.values?.(resource) ?? []).filter((v) => v !== "");
}

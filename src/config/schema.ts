// Schema validation of parsed documents. The validators come precompiled from validators.generated.ts
// when it matches the schema files, else they are compiled with ajv at first use (same options).
import type { ValidateFunction } from "ajv/dist/2020.js";
import type { Problem } from "../model/index.js";
import { newAjv, schemaHash } from "./build-validators.js";
import { ajvProblems } from "./messages.js";
import type { FileLocator } from "./problems.js";
import type { DocKind } from "./schema-files.js";
import * as generated from "./validators.generated.js";

export { readSchema, SCHEMA_FILES, type DocKind } from "./schema-files.js";

let validators: Record<DocKind, ValidateFunction> | null = null;

/** The validators for both kinds, chosen once per process. */
function compiled(): Record<DocKind, ValidateFunction> {
  if (validators) return validators;
  const pre = generated as unknown as { SCHEMA_HASH: string } & Record<DocKind, ValidateFunction>;
  if (pre.SCHEMA_HASH === schemaHash()) {
    validators = { Application: pre.Application, Environment: pre.Environment };
  } else {
    const { ajv, ids } = newAjv();
    validators = { Application: ajv.getSchema(ids.Application)!, Environment: ajv.getSchema(ids.Environment)! };
  }
  return validators;
}

/** Validates a parsed document against its schema; every violation becomes a located problem. */
export function validateSchema(kind: DocKind, doc: unknown, loc: FileLocator): Problem[] {
  const validate = compiled()[kind];
  if (validate(doc)) return [];
  return ajvProblems(validate.errors ?? [], loc);
}

/** Whether the precompiled validators match the schema files (tests assert it; builds should too). */
export function generatedIsCurrent(): boolean {
  return (generated as unknown as { SCHEMA_HASH: string }).SCHEMA_HASH === schemaHash();
}

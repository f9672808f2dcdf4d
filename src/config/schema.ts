// The JSON Schemas in schemas/ (the reference the README is generated from), compiled once with ajv.
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Problem } from "../model/index.js";
import { ajvProblems } from "./messages.js";
import type { FileLocator } from "./problems.js";

/** The two kinds of config file and their schema files. */
export const SCHEMA_FILES = {
  Application: "application.schema.json",
  Environment: "environment.schema.json",
} as const;
export type DocKind = keyof typeof SCHEMA_FILES;

const SCHEMA_DIR = new URL("../../schemas/", import.meta.url);

let validators: Record<DocKind, ValidateFunction> | null = null;

/** Reads one schema file from schemas/ (shipped with the package; src/ and dist/ sit at the same depth). */
export function readSchema(kind: DocKind): { $id: string } & Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(SCHEMA_FILES[kind], SCHEMA_DIR), "utf8")) as { $id: string } & Record<string, unknown>;
}

/** Compiles both schemas (once per process). The environment schema refers to the application one. */
function compiled(): Record<DocKind, ValidateFunction> {
  if (validators) return validators;
  // strictRequired is off because it rejects the standard `oneOf: [{required: [path]}, {required: [url]}]`
  // idiom; every other strict check (unknown keywords, union types, …) stays on.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, verbose: true });
  // ajv-formats is CommonJS: under NodeNext its default import is the module object.
  addFormats.default(ajv);
  const app = readSchema("Application");
  const env = readSchema("Environment");
  ajv.addSchema(app).addSchema(env);
  validators = { Application: ajv.getSchema(app.$id)!, Environment: ajv.getSchema(env.$id)! };
  return validators;
}

/** Validates a parsed document against its schema; every violation becomes a located problem. */
export function validateSchema(kind: DocKind, doc: unknown, loc: FileLocator): Problem[] {
  const validate = compiled()[kind];
  if (validate(doc)) return [];
  return ajvProblems(validate.errors ?? [], loc);
}

// The JSON Schema files in schemas/: the reference the README's config section is generated from.
import { readFileSync } from "node:fs";

/** The two kinds of config file and their schema files. */
export const SCHEMA_FILES = {
  Application: "application.schema.json",
  Environment: "environment.schema.json",
} as const;
export type DocKind = keyof typeof SCHEMA_FILES;

/** schemas/ ships with the package; src/config/ and dist/config/ sit at the same depth below it. */
const SCHEMA_DIR = new URL("../../schemas/", import.meta.url);

/** The text of one schema file. */
export function readSchemaText(kind: DocKind): string {
  return readFileSync(new URL(SCHEMA_FILES[kind], SCHEMA_DIR), "utf8");
}

/** One schema, parsed. */
export function readSchema(kind: DocKind): { $id: string } & Record<string, unknown> {
  return JSON.parse(readSchemaText(kind)) as { $id: string } & Record<string, unknown>;
}

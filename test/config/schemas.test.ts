// The schemas are the reference the README is generated from: every property described, every object
// closed to unknown keys (but open to x- keys), every pattern explained by a message of its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { patternMessage } from "../../src/config/patterns.js";
import { readSchema, type DocKind } from "../../src/config/schema.js";

type Schema = Record<string, unknown>;

/** Visits every subschema with its JSON pointer inside the schema file. */
function walk(node: unknown, at: string, visit: (s: Schema, at: string) => void): void {
  if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`, visit));
  else if (node !== null && typeof node === "object") {
    visit(node as Schema, at);
    for (const [k, v] of Object.entries(node)) if (k !== "const" && k !== "enum") walk(v, `${at}/${k}`, visit);
  }
}

const KINDS: DocKind[] = ["Application", "Environment"];

test("every property of both schemas has a description (own or from the definition it refers to)", () => {
  for (const kind of KINDS) {
    const schema = readSchema(kind);
    const defs = schema.$defs as Record<string, Schema>;
    const missing: string[] = [];
    walk(schema, "#", (s, at) => {
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
        const ref = typeof prop.$ref === "string" ? prop.$ref : "";
        const local = ref.startsWith("#/$defs/") ? defs[ref.slice(8)] : undefined;
        const described = prop.description ?? local?.description ?? (ref.startsWith("application.schema.json") ? "external" : undefined);
        if (!described) missing.push(`${kind} ${at}/properties/${name}`);
      }
    });
    assert.deepEqual(missing, []);
  }
});

test("every object schema rejects unknown keys and allows x- keys", () => {
  for (const kind of KINDS) {
    const open: string[] = [];
    walk(readSchema(kind), "#", (s, at) => {
      if (s.type !== "object" || !s.properties) return;
      const xOk = JSON.stringify(s.patternProperties) === JSON.stringify({ "^x-": {} });
      if (s.additionalProperties !== false || !xOk) open.push(`${kind} ${at}`);
    });
    assert.deepEqual(open, []);
  }
});

test("every pattern in the schemas has a message of its own", () => {
  for (const kind of KINDS) {
    walk(readSchema(kind), "#", (s, at) => {
      if (typeof s.pattern === "string") assert.ok(patternMessage(s.pattern, "?"), `${kind} ${at}: no message for ${s.pattern}`);
    });
  }
});

test("documented defaults in descriptions match the normalizer's", async () => {
  const { ENV_DEFAULTS } = await import("../../src/config/normalize-env.js");
  const env = JSON.stringify(readSchema("Environment"));
  for (const value of [ENV_DEFAULTS.proxyUid, ENV_DEFAULTS.outboundPort, ENV_DEFAULTS.inboundPort, ENV_DEFAULTS.dnsPort, ENV_DEFAULTS.initImage, ENV_DEFAULTS.consulAddress, ENV_DEFAULTS.checkTTL, ENV_DEFAULTS.deregisterCriticalAfter, ENV_DEFAULTS.baseDir, ENV_DEFAULTS.statePath]) {
    assert.ok(env.includes(`Default: \`${value}\``), `environment schema documents default ${value}`);
  }
});

test("the precompiled validators match the schema files and agree with ajv compiling them now", async () => {
  const { generatedIsCurrent } = await import("../../src/config/schema.js");
  const { generateValidators, newAjv } = await import("../../src/config/build-validators.js");
  const generated = await import("../../src/config/validators.generated.js");
  assert.ok(generatedIsCurrent(), "run `node --import tsx src/config/build-validators.ts` after editing schemas/");
  const { readFileSync } = await import("node:fs");
  const onDisk = readFileSync(new URL("../../src/config/validators.generated.ts", import.meta.url), "utf8");
  assert.equal(onDisk, generateValidators());
  const { ajv, ids } = newAjv();
  const bad = { apiVersion: "v2", kind: "Application", spec: { services: [{ name: "A", ports: [{ targetPort: 0, protocol: "x" }], extra: 1 }] } };
  const pre = (generated as unknown as Record<string, ((d: unknown) => boolean) & { errors: unknown }>).Application!;
  const now = ajv.getSchema(ids.Application)!;
  assert.equal(pre(bad), false);
  assert.equal(now(bad), false);
  assert.deepEqual(pre.errors, now.errors);
});

// `.sops.yaml` as `amphi secret set` reads it to create a secrets file: a YAML error, a wrong type, an invalid
// path_regex and a recipient that is not one are each an error naming the file, line and field (not a bare
// exception), and nothing is written; a good config still creates the file for its recipients.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { ageKeygen, noAge } from "./support.js";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), `amphi-sops-config-${process.pid}-`));
  mkdirSync(join(dir, "environments"));
  writeFileSync(join(dir, "environments/staging.yaml"), "name: staging\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** `amphi secret set staging billing/API_KEY` with `.sops.yaml` holding `config`: exit code and stderr. */
async function setWith(config: string): Promise<{ code: number; err: string }> {
  writeFileSync(join(dir, ".sops.yaml"), config);
  rmSync(join(dir, "environments/staging.secrets.yaml"), { force: true });
  let err = "";
  const code = await run(["secret", "set", "staging", "billing/API_KEY", "--repo", dir], { out: () => {}, err: (t) => void (err += t), cwd: dir, env: {}, stdin: async () => "v-1\n" });
  return { code, err };
}

const RULE = (body: string) => `creation_rules:\n  - ${body}\n`;
const cases: [string, string, RegExp][] = [
  ["a YAML error", "creation_rules:\n  - path_regex: [unclosed\n", /^amphi: \.sops\.yaml:\d+:\d+: invalid YAML: /],
  ["creation_rules not a list", "creation_rules: {age: age1x}\n", /^amphi: \.sops\.yaml:1:17 \/creation_rules: expected a list of rules/],
  ["a rule not a mapping", RULE("age1x"), /^amphi: \.sops\.yaml:2:5 \/creation_rules\/0: expected a mapping/],
  ["path_regex not a string", RULE("path_regex: [a]\n    age: age1x"), /^amphi: \.sops\.yaml:2:17 \/creation_rules\/0\/path_regex: expected a string/],
  ["an invalid path_regex", RULE("path_regex: 'environments/(.*'\n    age: age1x"), /^amphi: \.sops\.yaml:2:17 \/creation_rules\/0\/path_regex: invalid regular expression: /],
  ["age not a string or list", RULE("age: {key: age1x}"), /^amphi: \.sops\.yaml:2:10 \/creation_rules\/0\/age: expected age recipients: a comma-separated string or a list of strings/],
  ["a recipient that is not one", RULE("path_regex: secrets\n    age: age1nope"), /^amphi: \.sops\.yaml:3:10 \/creation_rules\/0\/age: "age1nope" is not an age recipient \(/],
];

for (const [what, config, message] of cases) {
  test(`.sops.yaml with ${what}: exit 1, located error, nothing written`, async () => {
    const r = await setWith(config);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, message);
    assert.ok(!existsSync(join(dir, "environments/staging.secrets.yaml")), "no secrets file written");
  });
}

test(".sops.yaml: a rule for other files is skipped; the matching one creates the file", { skip: noAge }, async () => {
  const { recipient } = ageKeygen();
  const r = await setWith(`creation_rules:\n  - path_regex: ^apps/\n    age: age1nope\n  - path_regex: environments/.*\\.secrets\\.yaml$\n    age: [${recipient}]\n`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /environments\/staging\.secrets\.yaml \/billing\/API_KEY: added \(encrypted to 1 age recipient\)/);
  assert.ok(existsSync(join(dir, "environments/staging.secrets.yaml")));
});

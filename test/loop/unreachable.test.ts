// Honest outcomes when amphi is blind: an environment whose cluster context does not exist, whose ssh hosts
// refuse connections and whose Consul address refuses. Nothing can be seen, so nothing may read as success:
// plan, apply, drift and reconcile --once exit 3 ("could not see every target"), the cycle is `unknown`
// (not in-sync), its report is named and summarised as incomplete, every unseen object is named by its key,
// and the commit gets non-success statuses (per app and for the environment), PR-mode plans included.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { amphi } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { commitAll, initRepo, writeFiles } from "../support/git-repo.js";
import { closedPort, writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { startForgeDouble } from "../support/forge-doubles.js";
import { spawnSync } from "../support/spawn.js";

let dir = "";
let keys = "";
let kube: TempKubeconfig;
let head = "";

before(async () => {
  ({ dir } = await exampleCopy("amphi-blind"));
  keys = mkdtempSync(join(tmpdir(), `amphi-blind-keys-${process.pid}-`));
  const key = join(keys, "id_ed25519");
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  assert.equal(made.status, 0, String(made.stderr));
  // A kubeconfig with one context that points nowhere; the environment names a context it does not have.
  kube = writeKubeconfig([{ name: "elsewhere", server: `http://127.0.0.1:${await closedPort()}` }]);
  writeFiles(dir, { ".gitignore": ".amphi/\n" });
  await initRepo(dir);
  await commitAll(dir, "example config");
  const [sshPort, consulPort] = [await closedPort(), await closedPort()];
  writeFiles(dir, {
    "environments/blind.yaml": `apiVersion: v1
kind: Environment
spec:
  mesh: { serviceIP: 10.255.0.1, capture: false, sidecar: { image: envoyproxy/envoy:v1.31.2 } }
  consul: { address: "http://127.0.0.1:${consulPort}" }
  clusters:
  - { name: eu1, context: no-such-context, namespace: shop }
  hostGroups:
  - name: legacy
    transport: ssh
    ssh: { user: root, port: ${sshPort}, identityFile: ${key}, knownHostsFile: ${join(keys, "known_hosts")} }
    baseDir: /opt/amphi-blind
    hosts:
    - { name: vm-1, address: 127.0.0.1 }
    - { name: vm-2, address: 127.0.0.1 }
  placements:
  - { app: catalog, cluster: eu1 }
  - { app: catalog, hostGroup: legacy }
  - { app: billing, hostGroup: legacy }
  status: { provider: gitnotes }
  state: { backend: file, path: .amphi }
`,
  });
  head = await commitAll(dir, "blind environment");
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(keys, { recursive: true, force: true });
  kube.cleanup();
});

const cli = (...args: string[]) => amphi([...args, "--kubeconfig", kube.path], dir, { ...process.env, ...kube.env });

function note(sha: string): Record<string, { state: string; description: string }> {
  const shown = spawnSync("git", ["notes", "--ref", "amphi", "show", sha], { cwd: dir, encoding: "utf8" });
  assert.equal(shown.status, 0, shown.stderr);
  const doc = JSON.parse(shown.stdout) as { statuses: { context: string; state: string; description: string }[] };
  return Object.fromEntries(doc.statuses.map((s) => [s.context, s]));
}

test("plan: exit 3, every unseen object on its own line with its key", async () => {
  const r = await cli("plan", "--env", "blind", "--repo", dir);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("unknown"));
  assert.ok(lines.length >= 6, r.stdout);
  assert.equal(new Set(lines).size, lines.length, `no two unknown rows alike:\n${lines.join("\n")}`);
  for (const k of ["k8s/eu1/Deployment/shop/catalog", "k8s/eu1/Service/shop/catalog", "vm/legacy/vm-1/billing", "vm/legacy/vm-2/catalog"]) {
    assert.ok(lines.some((l) => l.includes(` ${k} `)), `${k} named:\n${lines.join("\n")}`);
  }
  assert.match(r.stdout, /context "no-such-context"/);
  assert.match(r.stderr, /could not see every target/);
});

test("apply and drift: exit 3 when targets could not be read", async () => {
  const a = await cli("apply", "--env", "blind", "--repo", dir, "--yes");
  assert.equal(a.code, 3, a.stderr + a.stdout);
  assert.match(a.stderr, /could not see every target/);
  const d = await cli("drift", "--env", "blind", "--repo", dir);
  assert.equal(d.code, 3, d.stderr + d.stdout);
  assert.match(d.stdout, /incomplete/i);
});

test("reconcile --once: outcome unknown, exit 3, report named unknown, non-success statuses on the commit", async () => {
  const r = await cli("reconcile", "--env", "blind", "--once", "--repo", dir);
  assert.equal(r.code, 3, r.stderr + r.stdout);
  assert.match(r.stderr, /blind unknown \(once\)/);
  assert.doesNotMatch(r.stderr, /in-sync|in sync/);
  const reports = readdirSync(join(dir, ".amphi/reports/blind"));
  assert.ok(reports.some((f) => /-unknown\.html$/.test(f)), reports.join(", "));
  assert.ok(!reports.some((f) => /in-sync/.test(f)), reports.join(", "));
  const md = readFileSync(join(dir, ".amphi/reports/blind/latest.md"), "utf8");
  assert.match(md, /incomplete/i);
  assert.match(md, /not seen/);
  const statuses = note(head);
  assert.equal(statuses["amphi/blind"]?.state, "error", JSON.stringify(statuses));
  assert.match(statuses["amphi/blind"]!.description, /not seen/);
  for (const app of ["billing", "catalog"]) assert.equal(statuses[`amphi/blind/${app}`]?.state, "error", JSON.stringify(statuses));
});

test("PR-mode plan: exit 3 and the plan status is not success", async () => {
  const r = await cli("plan", "--env", "blind", "--repo", dir, "--base", "HEAD~1", "--head", "HEAD");
  assert.equal(r.code, 3, r.stderr + r.stdout);
  const status = note(head)["amphi/plan/blind"];
  assert.equal(status?.state, "error", JSON.stringify(status));
  assert.match(status!.description, /unknown/);
});

test("a forge is not sent the same statuses again by the next reconcile --once (a new process each time)", async () => {
  const gh = await startForgeDouble("github");
  try {
    const file = join(dir, "environments/blind.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("status: { provider: gitnotes }", `status: { provider: github, url: "${gh.url}", repository: ${gh.repository}, tokenEnv: AMPHI_TEST_GH_TOKEN }`));
    const sha = await commitAll(dir, "blind: statuses to the GitHub double");
    const once = () => amphi(["reconcile", "--env", "blind", "--once", "--repo", dir, "--kubeconfig", kube.path], dir, { ...process.env, ...kube.env, AMPHI_TEST_GH_TOKEN: gh.token });
    assert.equal((await once()).code, 3);
    const posted = gh.statuses(sha);
    assert.deepEqual(posted.map((p) => [p.context, p.state]), [["amphi/blind", "error"], ["amphi/blind/billing", "error"], ["amphi/blind/catalog", "error"]]);
    const again = await once();
    assert.equal(again.code, 3, again.stderr);
    assert.equal(gh.statuses(sha).length, posted.length, "nothing changed: nothing posted");
  } finally {
    await gh.close();
  }
});

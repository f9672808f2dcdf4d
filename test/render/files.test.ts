// renderFiles: clusters/<cluster>.yaml (kubectl-ready multi-doc YAML) and hostgroups/<group>.yaml, as bytes.
// Where the real kubectl is installed, every rendered object is decoded by it into its typed Go struct
// (offline, with `kubectl set … --local`): a misspelt field would be dropped and a wrong type rejected.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { load, loadAll } from "js-yaml";
import { render, renderFiles } from "../../src/render/index.js";
import { assertGolden } from "../support/golden.js";
import { modelFixture, withCapture } from "../support/model-fixture.js";

const golden = (name: string) => fileURLToPath(new URL(`golden/${name}`, import.meta.url));
type Obj = { [key: string]: any };

function files(model = modelFixture()) {
  return renderFiles(render(model, "prod"));
}

function content(path: string, model = modelFixture()): string {
  const file = files(model).find((f) => f.path === path);
  assert.ok(file, `no file ${path}`);
  return file.content;
}

describe("renderFiles", () => {
  it("writes one file per cluster and per host group, in separate folders, sorted by path", () => {
    assert.deepEqual(files().map((f) => f.path), ["clusters/eu1.yaml", "hostgroups/legacy.yaml"]);
  });

  it("matches the golden files byte for byte", () => {
    for (const f of files()) assertGolden(golden(f.path.replace("/", "-")), f.content);
  });

  it("puts Secrets and ConfigMaps, then Services before Deployments, each document starting with apiVersion, kind, metadata", () => {
    const docs = loadAll(content("clusters/eu1.yaml")) as Obj[];
    assert.deepEqual(
      docs.map((d) => `${d.kind}/${d.metadata.name}`),
      [
        "Secret/amphi-secrets-web", "ConfigMap/amphi-proxy-catalog", "ConfigMap/amphi-proxy-user", "ConfigMap/amphi-proxy-web",
        "Service/catalog", "Service/user", "Service/web", "Deployment/catalog", "Deployment/user", "Deployment/web",
      ],
    );
    const rest = (kind: string) => (kind === "ConfigMap" ? ["data"] : kind === "Secret" ? ["type"] : ["spec"]);
    for (const d of docs) assert.deepEqual(Object.keys(d), ["apiVersion", "kind", "metadata", ...rest(d.kind)]);
  });

  // Issue 13: but a Secret without its data (its values are never written to a file), with a note saying so.
  it("round-trips: the YAML parses back to exactly the rendered objects, Secrets without their data", () => {
    const desired = render(modelFixture(), "prod");
    const objects = desired.resources.flatMap((r) => (r.runtime === "k8s" ? [r.object] : [])).map((o) => {
      if (o.kind !== "Secret") return o;
      const { data: _data, ...rest } = o;
      return { ...rest, metadata: { ...rest.metadata, annotations: { ...rest.metadata.annotations, "amphi.dev/secret-values": "not rendered; amphi apply writes them from the environment's encrypted secrets file" } } };
    });
    assert.doesNotMatch(content("clusters/eu1.yaml"), /dev-only-not-a-real-key/);
    const docs = loadAll(content("clusters/eu1.yaml")) as Obj[];
    const byKey = (o: Obj) => `${o.kind}/${o.metadata.name}`;
    assert.deepEqual(
      [...docs].sort((a, b) => byKey(a).localeCompare(byKey(b))),
      [...objects].sort((a, b) => byKey(a).localeCompare(byKey(b))),
    );
  });

  it("writes a HostGroupRender with instances, capture fragments as literal blocks, registrations", () => {
    const text = content("hostgroups/legacy.yaml");
    assert.match(text, /\n {4}fragment: \|\n {6}# amphi capture for legacy\/vm-1 \(env prod\)\n {6}\*nat\n/);
    const doc = load(text) as Obj;
    assert.equal(doc.apiVersion, "amphi.dev/v1");
    assert.equal(doc.kind, "HostGroupRender");
    assert.deepEqual(doc.metadata, { name: "legacy", env: "prod" });
    assert.equal(doc.instances.length, 4);
    assert.equal(doc.capture.length, 2);
    assert.equal(doc.registrations.length, 6);
  });

  it("keeps secret values out of host-group files, but names them", () => {
    const text = content("hostgroups/legacy.yaml");
    assert.doesNotMatch(text, /hunter2/);
    const billing = (load(text) as Obj).instances.find((i: Obj) => i.app === "billing");
    assert.deepEqual(billing.environment, { APP_VERSION: "2.3.0", DB_PASSWORD: "(secret)" });
    assert.deepEqual(billing.secretEnv, ["DB_PASSWORD"]);
  });

  it("writes no capture entries when capture is off", () => {
    const doc = load(content("hostgroups/legacy.yaml", withCapture(modelFixture(), false))) as Obj;
    assert.deepEqual(doc.capture, []);
  });
});

describe("renderFiles with the real kubectl (offline typed decode)", () => {
  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  const skip = kubectl.status === 0 ? false : "kubectl is not installed";
  const dir = mkdtempSync(join(tmpdir(), "amphi-render-kubectl-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("decodes every object into its Kubernetes type without losing or changing a field", { skip }, () => {
    const docs = loadAll(content("clusters/eu1.yaml")) as Obj[];
    const decoded = kubectlLocal(docs, dir);
    for (const [i, doc] of docs.entries()) assertSubset(doc, decoded[i], `${doc.kind}/${doc.metadata.name}`);
  });
});

// `kubectl set … --local` reads the files into the typed objects and prints them back without contacting a
// server. For Services it sets the same selector; for Deployments it sets the app image to a marker
// (an unchanged image prints nothing), and the original image is put back before comparing.
const MARKER_IMAGE = "amphi.invalid/kubectl-check:0";
// A ConfigMap has no image or selector to set; a label added and removed again does the same job.
const MARKER_LABEL = "amphi.invalid/kubectl-check";

/** Each of `docs` as kubectl decodes it, in order. One kubectl run per kind of change (and per selector, which
 * `set selector` sets alike on every object it reads): a run costs ~150 ms of CPU here, one per object ~90 runs. */
function kubectlLocal(docs: Obj[], dir: string): Obj[] {
  const groups = new Map<string, { args: string[]; at: number[] }>();
  for (const [i, doc] of docs.entries()) {
    const args =
      doc.kind === "Deployment"
        ? ["set", "image", "--local", `app=${MARKER_IMAGE}`]
        : doc.kind === "ConfigMap" || doc.kind === "Secret"
          ? ["label", "--local", `${MARKER_LABEL}=1`]
          : ["set", "selector", "--local", selectorArg(doc.spec.selector)];
    const group = groups.get(args.join(" ")) ?? { args, at: [] };
    group.at.push(i);
    groups.set(args.join(" "), group);
  }
  const out: Obj[] = [];
  for (const { args, at } of groups.values()) {
    const fileArgs = at.flatMap((i) => {
      const file = join(dir, `${i}.json`);
      writeFileSync(file, JSON.stringify(docs[i]));
      return ["-f", file];
    });
    const all = [...args, ...fileArgs, "-o", "json"];
    const run = spawnSync("kubectl", all, { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/dev/null" } });
    assert.equal(run.status, 0, `kubectl ${all.join(" ")} failed: ${run.stderr}`);
    assert.notEqual(run.stdout, "", `kubectl ${all.join(" ")} printed nothing`);
    // several objects print one after another, each indented JSON from a `{` to a `}` of their own lines
    const items = run.stdout.split(/(?<=^\})\n(?=\{$)/m).map((text) => JSON.parse(text) as Obj);
    assert.equal(items.length, at.length, `kubectl ${all.join(" ")} printed ${items.length} objects, not ${at.length}`);
    for (const [n, i] of at.entries()) {
      const doc = docs[i]!;
      const decoded = items[n]!;
      assert.deepEqual([decoded.kind, decoded.metadata.name], [doc.kind, doc.metadata.name], `kubectl ${all.join(" ")}: object ${n}`);
      if (doc.kind === "Deployment") {
        const app = decoded.spec.template.spec.containers[0];
        assert.equal(app.image, MARKER_IMAGE);
        app.image = doc.spec.template.spec.containers[0].image;
      }
      if (doc.kind === "ConfigMap" || doc.kind === "Secret") delete decoded.metadata.labels[MARKER_LABEL];
      out[i] = decoded;
    }
  }
  return out;
}

function selectorArg(selector: Record<string, string>): string {
  return Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",");
}

// Every value in `expected` is in `actual` at the same place (kubectl adds defaults such as
// `creationTimestamp: null`, but must not drop or alter anything amphi wrote).
function assertSubset(expected: unknown, actual: unknown, path: string): void {
  if (expected !== null && typeof expected === "object") {
    assert.ok(actual !== null && typeof actual === "object", `${path}: missing after kubectl decode`);
    for (const [k, v] of Object.entries(expected)) assertSubset(v, (actual as Obj)[k], `${path}.${k}`);
    if (Array.isArray(expected)) assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    return;
  }
  assert.deepEqual(actual, expected, `${path}: changed by kubectl decode`);
}

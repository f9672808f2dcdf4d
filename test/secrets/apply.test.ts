// Secrets end to end (issue 13), through the CLI: the example's staging environment (a cluster through the real
// kubectl against the kube-apiserver double, a `transport: local` host group, Consul double) with web's
// SESSION_KEY and a new billing DB_PASSWORD in environments/staging.secrets.yaml, its data key encrypted by the real
// age CLI. The values reach the Secret and the host app's env file, and nothing else: every file amphi wrote
// (plans, PR comment, drift reports, run and task records, state.json, rendered files, logs), every output, the
// Deployment and its pod template, and the process list while applying. A missing or wrong identity and a tampered
// ciphertext stop the environment with a located error; a rotation rolls the pods and restarts the host app; an
// unchanged secret touches nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../src/cli/main.js";
import { amphi, type CliResult } from "../support/cli.js";
import { exampleCopy } from "../support/example-copy.js";
import { startConsulDouble, type ConsulDouble } from "../support/consul/index.js";
import { startKubeApiServer, type KubeApiDouble } from "../support/kube-apiserver/index.js";
import { writeKubeconfig, type TempKubeconfig } from "../support/kubeconfig.js";
import { commitAll, initRepo } from "../support/git-repo.js";
import { killUnder, processesUnder } from "../support/local-host.js";
import { ageKeygen, filesUnder, noAge, processArgsSampler, sampleWhile, sopsWithAgeCli } from "./support.js";

const noKubectl = !existsSync("/usr/bin/kubectl") && process.env.CI !== "true" ? "kubectl is not installed" : false;
const tag = () => Math.random().toString(36).slice(2, 10);

describe("secrets: encrypted in Git, referenced in pods, private on hosts, shown only as changed", { skip: noKubectl || noAge }, () => {
  const S1 = `s3ss-one-${tag()}`, S2 = `s3ss-two-${tag()}`;
  const D1 = `dbpw-one-${tag()}`, D2 = `dbpw-two-${tag()}`;
  const VALUES = [S1, S2, D1, D2];
  let dir = "";
  let double: KubeApiDouble;
  let consul: ConsulDouble;
  let kube: TempKubeconfig;
  const outputs: string[] = [];
  const key = ageKeygen();
  const keyFile = () => join(dir, "..", `${dir.split("/").pop()}.agekey`);
  const env = (identity: string | null = keyFile()): NodeJS.ProcessEnv => ({ ...process.env, ...kube.env, AMPHI_AGE_KEY: "", AMPHI_AGE_KEY_FILE: identity ?? "" });
  const cli = async (args: string[], identity?: string | null): Promise<CliResult> => {
    const r = await amphi([...args, "--repo", dir], dir, env(identity));
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const withKube = (args: string[]) => [...args, "--env", "staging", "--kubeconfig", kube.path];
  const base = () => join(dir, ".amphi/hosts/local");
  const billingPid = () => processesUnder(base()).find((p) => p.cmd.includes("server.mjs"))?.pid;
  const secretsFile = (values: { web: string; billing: string }) =>
    sopsWithAgeCli({ web: { SESSION_KEY: values.web }, billing: { DB_PASSWORD: values.billing } }, [key.recipient]);

  before(async () => {
    ({ dir } = await exampleCopy("amphi-secrets"));
    writeFileSync(keyFile(), key.identity, { mode: 0o600 });
    consul = await startConsulDouble();
    const envFile = join(dir, "environments/staging.yaml");
    writeFileSync(envFile, readFileSync(envFile, "utf8").replace("address: http://127.0.0.1:8500", `address: ${consul.url}`));
    const billing = join(dir, "apps/billing/spec.yaml");
    writeFileSync(billing, readFileSync(billing, "utf8").replace("      value: 2.3.0\n", "      value: 2.3.0\n    - name: DB_PASSWORD\n      secret: true\n"));
    writeFileSync(join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: environments/.*\\.secrets\\.yaml$\n    age: ${key.recipient}\n`);
    for (const e of ["local", "prod", "staging"]) writeFileSync(join(dir, `environments/${e}.secrets.yaml`), await secretsFile({ web: `${e}-web`, billing: `${e}-db` }));
    writeFileSync(join(dir, "environments/staging.secrets.yaml"), await secretsFile({ web: S1, billing: D1 }));
    await initRepo(dir);
    await commitAll(dir, "staging with secrets");
    double = await startKubeApiServer({ autoReady: true });
    kube = writeKubeconfig([{ name: "kind-dev", server: double.url }]);
  });

  after(async () => {
    await amphi(["demo", "--repo", dir, "--env", "staging", "--down"], dir, env());
    killUnder(base());
    await double?.close();
    await consul?.close();
    kube?.cleanup();
    rmSync(keyFile(), { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const nothingApplied = () => {
    assert.deepEqual(double.objects({ namespace: "shop" }), [], "nothing reached the cluster");
    assert.ok(!existsSync(join(base(), "state.json")), "nothing reached the host");
  };

  it("without an identity plan works (secrets not compared) and apply stops, naming the file and value", async () => {
    const plan = await cli(withKube(["plan"]), null);
    assert.equal(plan.code, 2, plan.stderr);
    assert.match(plan.stderr, /secret values of staging are not decrypted/);
    const apply = await cli(withKube(["apply", "--yes"]), null);
    assert.equal(apply.code, 1, apply.stderr);
    assert.match(apply.stderr, /^amphi: environments\/staging\.secrets\.yaml \/(web\/SESSION_KEY|billing\/DB_PASSWORD): no age identity to decrypt it: set AMPHI_AGE_KEY or AMPHI_AGE_KEY_FILE$/m);
    nothingApplied();
  });

  it("a wrong identity and a tampered ciphertext: exit 1 with a located error, nothing applied", async () => {
    const other = join(dir, "..", `${dir.split("/").pop()}.other`);
    writeFileSync(other, ageKeygen().identity, { mode: 0o600 });
    try {
      const wrong = await cli(withKube(["apply", "--yes"]), other);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^amphi: environments\/staging\.secrets\.yaml \/\w+\/\w+: cannot decrypt: the age identity is not one of the file's recipients/m);
      const plan = await cli(withKube(["plan"]), other);
      assert.equal(plan.code, 1, "a plan with a wrong identity is an error too");
    } finally {
      rmSync(other, { force: true });
    }
    nothingApplied();
    const file = join(dir, "environments/staging.secrets.yaml");
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good.replace(/(DB_PASSWORD: ENC\[AES256_GCM,data:)(.)/, (_, p: string, c: string) => p + (c === "A" ? "B" : "A")));
    try {
      const tampered = await cli(withKube(["apply", "--yes"]));
      assert.equal(tampered.code, 1);
      assert.match(tampered.stderr, /^amphi: environments\/staging\.secrets\.yaml \/billing\/DB_PASSWORD: does not decrypt/m);
    } finally {
      writeFileSync(file, good);
    }
    nothingApplied();
  });

  it("apply puts the values in the Secret and the host app's env file only, never in the process list", async () => {
    const { result: r, seen } = await sampleWhile(cli(withKube(["apply", "--yes"])), processArgsSampler());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(seen.length > 3, `the process list was sampled while applying (${seen.length} times)`);
    for (const v of VALUES) assert.ok(!seen.some((s) => s.includes(v)), `${v} in the process list`);

    const secret = double.get("Secret", "shop", "amphi-secrets-web") as { data: Record<string, string>; metadata: { labels: Record<string, string> } };
    assert.equal(Buffer.from(secret.data["SESSION_KEY"]!, "base64").toString(), S1, "the Secret holds the value");
    assert.equal(secret.metadata.labels["app.kubernetes.io/managed-by"], "amphi");
    const deployment = double.get("Deployment", "shop", "web") as any;
    const app = deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === "app");
    assert.deepEqual(app.env.find((e: { name: string }) => e.name === "SESSION_KEY"), { name: "SESSION_KEY", valueFrom: { secretKeyRef: { name: "amphi-secrets-web", key: "SESSION_KEY" } } });
    assert.match(deployment.spec.template.metadata.annotations["amphi.dev/secret-digest"], /^hmac-sha256:[0-9a-f]{32}$/);
    outputs.push(JSON.stringify(double.objects({ kind: "Deployment" })));

    const envFiles = readdirSync(join(base(), "apps/billing/releases")).map((r) => join(base(), "apps/billing/releases", r, ".amphi/env"));
    assert.equal(envFiles.length, 1);
    assert.equal(statSync(envFiles[0]!).mode & 0o777, 0o600, "the env file is mode 600");
    assert.match(readFileSync(envFiles[0]!, "utf8"), new RegExp(`^DB_PASSWORD='${D1}'$`, "m"));
    const pid = billingPid();
    assert.ok(pid, "billing runs");
    assert.ok(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`DB_PASSWORD=${D1}`), "the app has the value");
    const state = readFileSync(join(base(), "state.json"), "utf8");
    assert.match(state, /"DB_PASSWORD": "hmac-sha256:[0-9a-f]{32}"/, "state.json keeps a keyed digest");
  });

  it("a rotation shows only as (secret changed), rolls the pods and restarts the host app", async () => {
    const digestBefore = (double.get("Deployment", "shop", "web") as any).spec.template.metadata.annotations["amphi.dev/secret-digest"];
    const pidBefore = billingPid();
    for (const [name, value] of [["web/SESSION_KEY", S2], ["billing/DB_PASSWORD", D2]] as const) {
      let err = "";
      const code = await run(["secret", "set", "staging", name, "--repo", dir], { out: () => {}, err: (t) => void (err += t), cwd: dir, env: env(), stdin: async () => `${value}\n` });
      assert.equal(code, 0, err);
      outputs.push(err);
    }
    await commitAll(dir, "rotate staging secrets");
    for (const format of ["text", "json", "markdown"]) {
      const plan = await cli(withKube(["plan", "--format", format]));
      assert.equal(plan.code, 2, plan.stderr);
    }
    const text = await cli(withKube(["plan"]));
    assert.match(text.stdout, /k8s\s+dev\s+web\s+update\s+Secret\/shop\/amphi-secrets-web\s+metadata\.annotations\["amphi\.dev\/secret-digest"\] \(secret changed\)/);
    assert.match(text.stdout, /k8s\s+dev\s+web\s+update\s+Deployment\/shop\/web\s+spec\.template\.metadata\.annotations\["amphi\.dev\/secret-digest"\] \(secret changed\)/);
    assert.match(text.stdout, /vm\s+local\/localhost\s+billing\s+update\s+billing\s+environment\.DB_PASSWORD \(secret changed\)/);
    const pr = await cli(withKube(["plan", "--base", "HEAD~1", "--comment-file", "comment.md"]));
    assert.equal(pr.code, 2, pr.stderr);
    const comment = readFileSync(join(dir, "comment.md"), "utf8");
    assert.match(comment, /\(secret changed\)/);

    const r = await cli(withKube(["apply", "--yes"]));
    assert.equal(r.code, 0, r.stderr);
    const digestAfter = (double.get("Deployment", "shop", "web") as any).spec.template.metadata.annotations["amphi.dev/secret-digest"];
    assert.notEqual(digestAfter, digestBefore, "a new digest on the pod template: the pods roll");
    const secret = double.get("Secret", "shop", "amphi-secrets-web") as { data: Record<string, string> };
    assert.equal(Buffer.from(secret.data["SESSION_KEY"]!, "base64").toString(), S2);
    const pid = billingPid();
    assert.ok(pid && pid !== pidBefore, `billing restarted (pid ${pidBefore} → ${pid})`);
    assert.ok(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`DB_PASSWORD=${D2}`));
  });

  it("unchanged secrets touch nothing", async () => {
    const pid = billingPid();
    const rv = (double.get("Deployment", "shop", "web") as any).metadata.resourceVersion;
    const plan = await cli(withKube(["plan"]));
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const r = await cli(withKube(["apply", "--yes"]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(billingPid(), pid, "the host app was not restarted");
    assert.equal((double.get("Deployment", "shop", "web") as any).metadata.resourceVersion, rv, "the Deployment was not touched");
  });

  it("no output and no file amphi wrote holds a value: plans, reports, records, renders, state", async () => {
    for (const format of ["json", "markdown", "html", "text"]) await cli(withKube(["drift", "--format", format]));
    // A reconcile cycle writes drift reports and commit statuses (git notes) too.
    const cycle = await cli(withKube(["reconcile", "--once"]));
    assert.equal(cycle.code, 0, cycle.stderr);
    for (const args of [["--out", "rendered"], ["--as-actual"]]) {
      const r = await cli(["render", "--env", "staging", ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
    const tasks = async (args: string[]) => {
      const r = await amphi(["tasks", ...args, "--format", "json"], dir, env());
      assert.equal(r.code, 0, r.stderr);
      outputs.push(r.stdout, r.stderr);
      return r.stdout;
    };
    const runs = JSON.parse(await tasks(["list"])) as { id: string }[] | { runs: { id: string }[] };
    const ids = (Array.isArray(runs) ? runs : runs.runs).map((r) => r.id);
    assert.ok(ids.length >= 2, `the two applies that changed something were recorded (${ids.join(", ")})`);
    for (const id of ids) await tasks(["show", id]);
    for (const out of outputs) for (const v of VALUES) assert.ok(!out.includes(v), `${v} in an output: ${out.slice(0, 200)}`);
    // Every file under the repo and amphi's state (runs, reports, statuses, rendered files, host state and logs),
    // except the one place a value belongs on a host: a release's env file (mode 600), with the copy an in-place
    // change keeps in .amphi/rollback/ until the app's next change (crash recovery puts it back). Git's objects
    // are compressed.
    const files: string[] = [];
    for (const p of filesUnder(dir)) {
      if (/\/(releases\/[^/]+|current)\/\.amphi\/((next|rollback)\/)?env$/.test(p)) assert.equal(statSync(p).mode & 0o777, 0o600, p);
      else files.push(p);
    }
    for (const want of [/\/state\.json$/, /\/runs\/r-[^/]+\.json$/, /\/rendered\/clusters\/dev\.yaml$/, /\/reports\//, /\/logs\/billing\.log$/]) {
      assert.ok(files.some((f) => want.test(f)), `a file matching ${want} was searched`);
    }
    for (const f of files) {
      const text = readFileSync(f, "latin1");
      for (const v of VALUES) {
        assert.ok(!text.includes(v) && !text.includes(Buffer.from(v).toString("base64")), `${v} in ${f}`);
      }
    }
  });
});

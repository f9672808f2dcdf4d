// The mesh graph (src/report/mesh-graph*.ts): config + live data → nodes and edges → dagre layout → SVG.
// Checked on the model fixture (config only), on the report scenario (live health), and on a generated fleet
// of 200 apps (layout: no two node boxes overlap, every edge runs between its boxes). The SVG is read back
// with regular expressions over what the writer emits (one element per line for nodes and edges).
import { test } from "node:test";
import assert from "node:assert/strict";
import { meshGraphInput, meshGraphSection, meshGraphSvg, STATE_COLOURS, type MeshGraphInput } from "../../src/report/mesh-graph.js";
import { layoutMeshGraph } from "../../src/report/mesh-graph-layout.js";
import { observedRegistrationOf } from "../../src/runtimes/registrations.js";
import type { Model, PodRegistration, TrafficPolicy } from "../../src/model/index.js";
import { modelFixture, withEnvironment } from "../support/model-fixture.js";
import { scenarioActual, scenarioModel, scenarioReport } from "./scenario.js";
import { meshFleet } from "./mesh-graph-fleet.js";

interface SvgNode {
  service: string;
  state: string;
  vm: number;
  pods: number;
  placed: boolean;
  box: { x: number; y: number; width: number; height: number };
  fill: string;
  stroke: string;
  title: string;
  texts: string[];
}

interface SvgEdge {
  from: string;
  to: string;
  title: string;
  texts: string[];
  points: { x: number; y: number }[];
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

function attr(el: string, name: string): string {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(el);
  assert.ok(m, `${name} in ${el.slice(0, 200)}`);
  return unescape(m[1]!);
}

function texts(el: string): string[] {
  return [...el.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1]!));
}

function nodesOf(svg: string): SvgNode[] {
  return [...svg.matchAll(/<g class="mg-node"[^>]*>[\s\S]*?<\/g>/g)].map(([el]) => {
    const rect = /<rect [^>]*\/>/.exec(el)![0];
    return {
      service: attr(el, "data-service"),
      state: attr(el, "data-state"),
      vm: Number(attr(el, "data-vm")),
      pods: Number(attr(el, "data-pods")),
      placed: attr(el, "data-placed") === "true",
      box: { x: Number(attr(rect, "x")), y: Number(attr(rect, "y")), width: Number(attr(rect, "width")), height: Number(attr(rect, "height")) },
      fill: attr(rect, "fill"),
      stroke: attr(rect, "stroke"),
      title: unescape(/<title>([^<]*)<\/title>/.exec(el)![1]!),
      texts: texts(el),
    };
  });
}

function edgesOf(svg: string): SvgEdge[] {
  const labels = new Map(
    [...svg.matchAll(/<g class="mg-edge-label"[^>]*>[\s\S]*?<\/g>/g)].map(([el]) => [`${attr(el, "data-label-from")}→${attr(el, "data-label-to")}`, texts(el)]),
  );
  return [...svg.matchAll(/<g class="mg-edge"[^>]*>[\s\S]*?<\/g>/g)].map(([el]) => ({
    from: attr(el, "data-from"),
    to: attr(el, "data-to"),
    title: unescape(/<title>([^<]*)<\/title>/.exec(el)![1]!),
    texts: labels.get(`${attr(el, "data-from")}→${attr(el, "data-to")}`) ?? [],
    // The path's end points (M x,y and the last coordinate pair).
    points: [...attr(el, "d").matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) })),
  }));
}

/** The apps placed in `env` and the dependsOn pairs among them, as the graph must show them. */
function expected(model: Model, env = "prod"): { nodes: string[]; edges: string[] } {
  const placed = new Set(model.environments.find((e) => e.name === env)!.placements.map((p) => p.app));
  const apps = model.apps.filter((a) => placed.has(a.name));
  const nodes = new Set([...apps.map((a) => a.name), ...apps.flatMap((a) => a.dependsOn)]);
  return { nodes: [...nodes].sort(), edges: apps.flatMap((a) => a.dependsOn.map((d) => `${a.name}→${d}`)).sort() };
}

const split: TrafficPolicy = {
  service: "user",
  split: [{ version: "v1", weight: 90 }, { version: "v2", weight: 10 }],
  timeoutMs: 2000,
  retries: { attempts: 2, perTryTimeoutMs: 500, on: ["5xx", "connect-failure"] },
  circuitBreaker: { maxConnections: 200, maxPendingRequests: null, maxRequests: null },
  outlierDetection: null,
  rateLimit: null,
};

test("config only: every placed app is a node, every dependsOn an edge; counts from the placements; all grey", () => {
  const model = modelFixture();
  const svg = meshGraphSvg(meshGraphInput(model, "prod"));
  const nodes = nodesOf(svg);
  const want = expected(model);
  assert.deepEqual(nodes.map((n) => n.service), want.nodes);
  assert.deepEqual(edgesOf(svg).map((e) => `${e.from}→${e.to}`).sort(), want.edges);
  const by = new Map(nodes.map((n) => [n.service, n]));
  // catalog: pods on eu1 (2 replicas) and processes on vm-1, vm-2; user: 3 replicas (the placement's override).
  assert.deepEqual([by.get("catalog")!.vm, by.get("catalog")!.pods], [2, 2]);
  assert.deepEqual(by.get("catalog")!.texts, ["catalog", "http 8080 · grpc 9090", "2 VM · 2 pods"]);
  assert.deepEqual(by.get("user")!.texts, ["user", "http 8091", "3 pods"]);
  assert.deepEqual(by.get("billing")!.texts, ["billing", "http 9100", "2 VM"]);
  for (const n of nodes) {
    assert.equal(n.state, "unknown", `${n.service} has no live data`);
    assert.equal(n.fill, STATE_COLOURS.unknown.fill);
    assert.match(n.title, /config only/);
  }
  assert.equal((svg.match(/<marker /g) ?? []).length, 1, "one arrowhead marker");
  assert.equal((svg.match(/marker-end="url\(#mg-arrow-prod\)"/g) ?? []).length, want.edges.length, "every edge ends in an arrowhead");
});

test("traffic policy: weights, timeout and retries on every edge into the service; a policy nobody calls sits on its node", () => {
  const model = withEnvironment(modelFixture(), (env) => ({
    ...env,
    mesh: { ...env.mesh, controlPlane: { host: "10.0.0.1", port: 18000 } },
    traffic: [split, { ...split, service: "web", split: [], retries: null, circuitBreaker: null, timeoutMs: 5000 }],
  }));
  const input = meshGraphInput(model, "prod");
  assert.equal(input.controlPlane, true);
  const svg = meshGraphSvg(input);
  const edges = edgesOf(svg);
  for (const e of edges.filter((x) => x.to === "user")) {
    assert.deepEqual(e.texts, ["v1 90% / v2 10%", "timeout 2s · retry 2× 500ms/try", "max 200 conn"], `${e.from}→user`);
    assert.match(e.title, /retries: 2, 500ms per try, on 5xx, connect-failure/);
    assert.doesNotMatch(e.title, /not applied/);
  }
  assert.equal(edges.filter((x) => x.to === "user").length, 2, "billing and web call user");
  for (const e of edges.filter((x) => x.to !== "user")) assert.deepEqual(e.texts, [], `${e.from}→${e.to} has no policy`);
  // web: nothing placed depends on it, so its policy is drawn in its node.
  const web = nodesOf(svg).find((n) => n.service === "web")!;
  assert.deepEqual(web.texts.slice(-1), ["timeout 5s"]);
  // Without a control plane the policy is still shown as configured, and the tooltip says it is not applied.
  const without = meshGraphSvg(meshGraphInput(withEnvironment(model, (env) => ({ ...env, mesh: { ...env.mesh, controlPlane: null } })), "prod"));
  assert.match(edgesOf(without).find((e) => e.to === "user")!.title, /not applied: the environment has no mesh.controlPlane/);
});

test("live health: a drift report's rows and registry instances colour the nodes by their worst instance", () => {
  const model = scenarioModel();
  const report = scenarioReport();
  const registrations = scenarioActual().resources.flatMap((r) => observedRegistrationOf(r) ?? []);
  const pod = (name: string, check: PodRegistration["check"]): PodRegistration => ({
    node: "amphi-k8s-eu1", id: `web-${name}`, service: "web", app: "web", env: "prod", cluster: "eu1", namespace: "shop", pod: name,
    address: "10.1.0.1", port: 3000, version: "4.2.0", tags: [], meta: {}, check,
  });
  const input = meshGraphInput(model, "prod", { report, registrations, pods: [pod("web-a", "passing"), pod("web-b", "warning"), pod("web-c", "passing")] });
  assert.equal(input.live, true);
  const by = new Map(nodesOf(meshGraphSvg(input)).map((n) => [n.service, n]));
  // catalog: healthy on eu1, but its process on vm-1 is stopped and its checks critical.
  assert.equal(by.get("catalog")!.state, "critical");
  assert.equal(by.get("catalog")!.fill, STATE_COLOURS.critical.fill);
  assert.match(by.get("catalog")!.title, /Consul, VM instances: 1 passing, 1 critical/);
  // user: its rollout is progressing (1/3 updated) → warning.
  assert.equal(by.get("user")!.state, "warning");
  assert.equal(by.get("user")!.stroke, STATE_COLOURS.warning.stroke);
  // web: its row is healthy, one of its three registered pods warns.
  assert.equal(by.get("web")!.state, "warning");
  assert.equal(by.get("web")!.pods, 3);
  assert.match(by.get("web")!.title, /Consul, pods: 2 passing, 1 warning/);
  // billing: vm-3 could not be read (unknown) and is not registered; the two others are.
  assert.equal(by.get("billing")!.vm, 2, "billing is registered on vm-1 and vm-2 only");
  assert.match(by.get("billing")!.title, /legacy\/vm-3: unknown/);
  // An app with only passing data is green.
  const healthy = meshGraphInput(model, "prod", { pods: [pod("web-a", "passing")] });
  const web = nodesOf(meshGraphSvg(healthy)).find((n) => n.service === "web")!;
  assert.deepEqual([web.state, web.fill], ["passing", STATE_COLOURS.passing.fill]);
});

test("text is escaped: names, versions and live details cannot break out of the SVG", () => {
  const evil = `a<b>&"c'`;
  const input: MeshGraphInput = {
    env: `e"><script>`,
    live: true,
    controlPlane: false,
    nodes: [
      { app: evil, services: [{ name: evil, ports: ["http 80"] }], placed: true, vm: { count: 1, source: "registered" }, pods: { count: 0, source: "desired" }, state: "warning", reasons: ["<script>alert(1)</script>"], policy: [] },
      { app: "b", services: [], placed: false, vm: { count: 0, source: "desired" }, pods: { count: 0, source: "desired" }, state: "unknown", reasons: [], policy: [] },
    ],
    edges: [{ from: evil, to: "b", policy: [`v<1> 100%`], detail: [`split: v<1> 100% & more`] }],
  };
  const svg = meshGraphSvg(input);
  assert.doesNotMatch(svg, /<script/);
  assert.doesNotMatch(svg, /<b>|<1>/);
  assert.ok(svg.includes("a&lt;b&gt;&amp;&quot;c&#39;"));
  assert.equal(nodesOf(svg)[0]!.service, evil, "the attribute reads back as the name");
  assert.equal(edgesOf(svg)[0]!.from, evil);
  assert.deepEqual(edgesOf(svg)[0]!.texts, ["v<1> 100%"]);
  assert.match(svg, /id="mg-arrow-e___script_"/, "the marker id keeps only safe characters");
  // Tags balance: every <g> and <text> opened is closed.
  for (const tag of ["g", "text", "title", "svg"]) assert.equal((svg.match(new RegExp(`<${tag}[ >]`, "g")) ?? []).length, (svg.match(new RegExp(`</${tag}>`, "g")) ?? []).length, tag);
});

test("a dependency placed nowhere in the environment is a dashed node; an empty environment says so", () => {
  const model = withEnvironment(modelFixture(), (env) => ({ ...env, placements: env.placements.filter((p) => p.app !== "user") }));
  const svg = meshGraphSvg(meshGraphInput(model, "prod"));
  const user = nodesOf(svg).find((n) => n.service === "user")!;
  assert.equal(user.placed, false);
  assert.deepEqual(user.texts, ["user", "http 8091", "not placed here"]);
  assert.match(svg, /data-service="user"[^>]*>[^]*?<rect [^>]*stroke-dasharray/);
  const empty = withEnvironment(modelFixture(), (env) => ({ ...env, placements: [] }));
  assert.match(meshGraphSection(meshGraphInput(empty, "prod")), /No apps are placed in prod\./);
  assert.throws(() => meshGraphInput(modelFixture(), "prdo"), /unknown environment "prdo" \(known: prod\)/);
});

test("deterministic: the same config gives the same bytes, whatever order the apps come in", () => {
  const model = meshFleet(120);
  const a = meshGraphSection(meshGraphInput(model, "prod"));
  const shuffled = { ...model, apps: [...model.apps].reverse() };
  const env = shuffled.environments[0]!;
  shuffled.environments = [{ ...env, placements: [...env.placements].reverse() }];
  assert.equal(meshGraphSection(meshGraphInput(shuffled, "prod")), a);
  assert.equal(meshGraphSection(meshGraphInput(model, "prod")), a);
});

test("layout of 200 apps: no two node boxes overlap, every edge runs from its caller's box to its callee's", () => {
  const model = meshFleet(200);
  const input = meshGraphInput(model, "prod");
  const svg = meshGraphSvg(input);
  const nodes = nodesOf(svg);
  assert.equal(nodes.length, expected(model).nodes.length);
  assert.deepEqual(edgesOf(svg).map((e) => `${e.from}→${e.to}`).sort(), expected(model).edges);
  const { width, height } = layoutMeshGraph(input);
  for (const n of nodes) {
    assert.ok(n.box.x >= 0 && n.box.y >= 0 && n.box.x + n.box.width <= width + 0.5 && n.box.y + n.box.height <= height + 0.5, `${n.service} inside the picture`);
    // Boxes are sized from their text at the estimated character widths.
    for (const t of n.texts) assert.ok(t.length * 6.6 <= n.box.width, `${n.service}: "${t}" fits`);
  }
  const sorted = [...nodes].sort((a, b) => a.box.x - b.box.x);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!.box;
    for (let j = i + 1; j < sorted.length && sorted[j]!.box.x < a.x + a.width; j++) {
      const b = sorted[j]!.box;
      const apart = b.y >= a.y + a.height || a.y >= b.y + b.height || b.x >= a.x + a.width;
      assert.ok(apart, `${sorted[i]!.service} and ${sorted[j]!.service} overlap`);
    }
  }
  const box = new Map(nodes.map((n) => [n.service, n.box]));
  const near = (p: { x: number; y: number }, b: SvgNode["box"]) => p.x >= b.x - 1 && p.x <= b.x + b.width + 1 && p.y >= b.y - 1 && p.y <= b.y + b.height + 1;
  for (const e of edgesOf(svg)) {
    assert.ok(near(e.points[0]!, box.get(e.from)!), `${e.from}→${e.to} starts at ${e.from}`);
    assert.ok(near(e.points[e.points.length - 1]!, box.get(e.to)!), `${e.from}→${e.to} ends at ${e.to}`);
  }
});

test("the layout of a config is kept: new health and counts re-draw in the same places, as a fresh layout would", () => {
  const model = meshFleet(60, { seed: 11 });
  const first = meshGraphInput(model, "prod");
  const before = nodesOf(meshGraphSvg(first));
  const pods: PodRegistration[] = model.apps.map((a, i) => ({
    node: "amphi-k8s-eu1", id: a.name, service: a.name, app: a.name, env: "prod", cluster: "eu1", namespace: "shop", pod: a.name,
    address: "10.1.0.1", port: 80, version: "1", tags: [], meta: {}, check: i % 4 === 0 ? "critical" : "passing",
  }));
  const second = meshGraphInput(model, "prod", { pods });
  const kept = meshGraphSvg(second);
  const after = nodesOf(kept);
  assert.deepEqual(after.map((n) => n.box), before.map((n) => n.box), "same boxes");
  assert.ok(after.some((n) => n.state === "critical") && after.some((n) => n.state === "passing"), "new states drawn");
  assert.ok(after.filter((n) => n.pods === 1).length > 0 && before.every((n) => n.pods !== 1), "new counts drawn");
  assert.equal(kept, meshGraphSvg(second, { cache: false }), "the kept layout draws what a fresh one draws");
  assert.deepEqual(layoutMeshGraph(second).nodes.map((n) => n.node), layoutMeshGraph(second, { cache: false }).nodes.map((n) => n.node));
});

// Desired state as files (`amphi render --out DIR`): `clusters/<cluster>.yaml` holds plain Kubernetes objects
// that `kubectl apply -f DIR/clusters/` accepts (the rendered-manifests pattern for Argo CD or Flux users);
// `hostgroups/<group>.yaml` holds the VM side. They live in separate folders because the latter are not
// Kubernetes objects and would break a `kubectl apply -R` over the whole tree. Each runtime's `files` hook
// says which file its resources go to and how they appear there.
import { dump } from "js-yaml";
import type { DesiredState } from "../model/index.js";
import { compareStrings } from "../model/index.js";
import { hooksOf, RUNTIMES } from "../runtimes/index.js";

/** One rendered file: a `/`-separated path relative to the output directory, and its text. */
export interface RenderedFile {
  path: string;
  content: string;
}

/** The apiVersion and kind of the host-group documents amphi writes. */
export const HOST_GROUP_RENDER = { apiVersion: "amphi.dev/v1", kind: "HostGroupRender" } as const;

/** The folders rendered files go in: every file amphi writes there is its own (stale ones are removed). */
export const RENDER_FOLDERS: readonly string[] = [
  "clusters",
  "hostgroups",
  ...new Set(Object.values(RUNTIMES).flatMap((h) => (h.files.layout === "environment" ? [h.files.folder] : []))),
];

/** The sections of a host-group document, in the order of the runtime list. */
const SECTIONS = Object.values(RUNTIMES).flatMap((h) => (h.files.layout === "hostgroups" ? [h.files.section] : []));

/** Renders a desired state into files, sorted by path. Same state in, same bytes out. */
export function renderFiles(desired: DesiredState): RenderedFile[] {
  // Files in first-seen order (resources come in key order); entries in key order.
  const clusters = new Map<string, { rank: number; document: Record<string, unknown> }[]>();
  const hostGroups = new Map<string, Map<string, unknown[]>>();
  const envFiles = new Map<string, { kind: string; section: string; entries: unknown[] }>();
  for (const r of desired.resources) {
    const files = hooksOf(r.runtime).files;
    if (files.layout === "clusters") {
      entry(clusters, files.file(r), () => []).push({ rank: files.rank(r), document: files.document(r) });
    } else if (files.layout === "environment") {
      entry(envFiles, `${files.folder}/${desired.env}.yaml`, () => ({ kind: files.kind, section: files.section, entries: [] })).entries.push(files.entry(r));
    } else {
      const sections = entry(hostGroups, files.file(r), () => new Map(SECTIONS.map((s): [string, unknown[]] => [s, []])));
      sections.get(files.section)!.push(files.entry(r));
    }
  }
  const out = [
    ...[...clusters].map(([cluster, documents]) => clusterFile(desired.env, cluster, documents)),
    ...[...hostGroups].map(([group, sections]) => hostGroupFile(desired.env, group, sections)),
    ...[...envFiles].map(([path, file]) => environmentFile(desired.env, path, file)),
  ];
  return out.sort((a, b) => compareStrings(a.path, b.path));
}

function clusterFile(env: string, cluster: string, documents: { rank: number; document: Record<string, unknown> }[]): RenderedFile {
  const ordered = [...documents].sort((a, b) => a.rank - b.rank).map((d) => d.document);
  const header = `# Rendered by amphi for environment ${env}, cluster ${cluster}. Do not edit: edit the config repo.\n`;
  return { path: `clusters/${cluster}.yaml`, content: header + ordered.map((d) => "---\n" + toYaml(d)).join("") };
}

function hostGroupFile(env: string, group: string, sections: Map<string, unknown[]>): RenderedFile {
  const doc = { ...HOST_GROUP_RENDER, metadata: { name: group, env }, ...Object.fromEntries(sections) };
  const header = `# Rendered by amphi for environment ${env}, host group ${group}. Not a Kubernetes object.\n`;
  return { path: `hostgroups/${group}.yaml`, content: header + toYaml(doc) };
}

function environmentFile(env: string, path: string, file: { kind: string; section: string; entries: unknown[] }): RenderedFile {
  const doc = { apiVersion: HOST_GROUP_RENDER.apiVersion, kind: file.kind, metadata: { env }, [file.section]: file.entries };
  const header = `# Rendered by amphi for environment ${env}. Not a Kubernetes object.\n`;
  return { path, content: header + toYaml(doc) };
}

// The value of `name` in `map`, made and set first when there is none.
function entry<V>(map: Map<string, V>, name: string, make: () => V): V {
  const value = map.get(name) ?? make();
  map.set(name, value);
  return value;
}

// Options fixed for stable bytes: insertion order (no key sorting), no line folding, no anchors/aliases.
function toYaml(value: unknown): string {
  return dump(value, { sortKeys: false, lineWidth: -1, noRefs: true });
}

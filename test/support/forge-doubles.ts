// TEST DOUBLES of the commit-status endpoints of GitHub, Gitea/Forgejo and GitLab: small HTTP servers on
// 127.0.0.1 (port 0). They are not the forges; they speak just enough of each status API, as documented, for
// amphi's reporters to be tested: the paths, the auth header each forge reads, the states it accepts,
// GitHub's 422 for a description over 140 characters, GitLab's `name` and its 400 when a pending/running
// status is posted again with the same state. Fault modes: answer N requests with an error (502 twice, then
// the normal 201, tests retries), or hold N requests without answering (tests timeouts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Which forge a double imitates. */
export type ForgeKind = "github" | "gitea" | "gitlab";

/** One request as the double received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A status as the double stored it (GitLab's `name` is kept as `context`). */
export interface StoredStatus {
  sha: string;
  state: string;
  context: string;
  description: string;
  targetUrl: string | null;
}

/** A running double. */
export interface ForgeDouble {
  kind: ForgeKind;
  /** What `status.url` would be: the API root (GitHub), or the instance URL (Gitea, GitLab). */
  url: string;
  token: string;
  /** `owner/repo` (GitLab: the project path). */
  repository: string;
  requests: RecordedRequest[];
  /** Statuses stored for a commit, oldest first. */
  statuses(sha: string): StoredStatus[];
  /** The next `count` requests are answered `status` (default 502) with an error body; with `echo`, the
   * body repeats the request's credentials, as some proxies' error pages do (tests that tokens are scrubbed). */
  failNext(count: number, status?: number, echo?: boolean): void;
  /** The next `count` requests get no answer until the double closes. */
  hangNext(count: number): void;
  close(): Promise<void>;
}

/** Options of {@link startForgeDouble}. */
export interface ForgeDoubleOptions {
  token?: string;
  repository?: string;
}

const GITHUB_STATES = ["error", "failure", "pending", "success"];
const GITEA_STATES = ["pending", "success", "error", "failure", "warning"];
const GITLAB_STATES = ["pending", "running", "success", "failed", "canceled"];
const GITLAB_EVENT: Record<string, string> = { pending: "enqueue", running: "run", success: "success", failed: "drop", canceled: "cancel" };

/** Starts a double of `kind` on 127.0.0.1, port 0. */
export async function startForgeDouble(kind: ForgeKind, opts: ForgeDoubleOptions = {}): Promise<ForgeDouble> {
  const token = opts.token ?? `tok-${kind}-${process.pid}-s3cr3t`;
  const repository = opts.repository ?? (kind === "gitlab" ? "group/sub/shop-config" : "example/shop-config");
  const stored: StoredStatus[] = [];
  const requests: RecordedRequest[] = [];
  const faults: { kind: "fail" | "hang"; status: number; echo?: boolean }[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      const body = parseJson(raw);
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const fault = faults.shift();
      if (fault?.kind === "hang") return void hanging.push(res);
      if (fault) {
        const echoed = fault.echo ? ` for credentials ${String(req.headers.authorization ?? req.headers["private-token"])}` : "";
        return send(res, fault.status, { message: `${fault.status} from the ${kind} double (fault injected)${echoed}` });
      }
      const handle = kind === "github" ? github : kind === "gitea" ? gitea : gitlab;
      handle({ req, res, body, token, repository, stored });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    kind,
    url: `http://127.0.0.1:${port}`,
    token,
    repository,
    requests,
    statuses: (sha) => stored.filter((s) => s.sha === sha),
    failNext: (count, status = 502, echo = false) => faults.push(...Array.from({ length: count }, () => ({ kind: "fail" as const, status, echo }))),
    hangNext: (count) => faults.push(...Array.from({ length: count }, () => ({ kind: "hang" as const, status: 0 }))),
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  token: string;
  repository: string;
  stored: StoredStatus[];
}

/** GitHub: POST /repos/{owner}/{repo}/statuses/{sha}, `Authorization: Bearer|token <t>`. */
function github({ req, res, body, token, repository, stored }: Ctx): void {
  const m = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/?]+)$/.exec(req.url ?? "");
  if (req.method !== "POST" || !m) return send(res, 404, { message: "Not Found" });
  if (!/^(Bearer|token) /.test(req.headers.authorization ?? "") || req.headers.authorization!.split(" ")[1] !== token) return send(res, 401, { message: "Bad credentials" });
  if (`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}` !== repository) return send(res, 404, { message: "Not Found" });
  const b = obj(body);
  if (!GITHUB_STATES.includes(String(b["state"]))) return send(res, 422, validation("state", `state is not included in the list`));
  const description = typeof b["description"] === "string" ? b["description"] : "";
  if (description.length > 140) return send(res, 422, validation("description", "description is too long (maximum is 140 characters)"));
  if (!/^[0-9a-f]{40}$/.test(m[3]!)) return send(res, 422, { message: `No commit found for SHA: ${m[3]}` });
  const s = store(stored, m[3]!, String(b["state"]), str(b["context"]) ?? "default", description, str(b["target_url"]));
  send(res, 201, { id: stored.length, state: s.state, description: s.description, context: s.context, target_url: s.targetUrl });
}

/** Gitea/Forgejo: POST /api/v1/repos/{owner}/{repo}/statuses/{sha}, `Authorization: token <t>`. */
function gitea({ req, res, body, token, repository, stored }: Ctx): void {
  const m = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/?]+)$/.exec(req.url ?? "");
  if (req.method !== "POST" || !m) return send(res, 404, { message: "not found" });
  if (req.headers.authorization !== `token ${token}`) return send(res, 401, { message: "user does not exist [uid: 0, name: ]" });
  if (`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}` !== repository) return send(res, 404, { message: "repository does not exist" });
  const b = obj(body);
  if (!GITEA_STATES.includes(String(b["state"]))) return send(res, 422, [{ fieldNames: ["State"], classification: "InvalidState", message: "invalid state" }]);
  const s = store(stored, m[3]!, String(b["state"]), str(b["context"]) ?? "default", str(b["description"]) ?? "", str(b["target_url"]));
  send(res, 201, { id: stored.length, status: s.state, description: s.description, context: s.context, target_url: s.targetUrl });
}

/** GitLab: POST /api/v4/projects/{url-encoded path}/statuses/{sha}, `PRIVATE-TOKEN: <t>`; `name`, not
 * `context`; a pending or running status moved to the state it has answers 400 (Cannot transition …). */
function gitlab({ req, res, body, token, repository, stored }: Ctx): void {
  const m = /^\/api\/v4\/projects\/([^/]+)\/statuses\/([^/?]+)$/.exec(req.url ?? "");
  if (req.method !== "POST" || !m) return send(res, 404, { error: "404 Not Found" });
  if (req.headers["private-token"] !== token) return send(res, 401, { message: "401 Unauthorized" });
  if (decodeURIComponent(m[1]!) !== repository) return send(res, 404, { message: "404 Project Not Found" });
  const b = obj(body);
  const state = String(b["state"]);
  if (!GITLAB_STATES.includes(state)) return send(res, 400, { error: "state does not have a valid value" });
  const name = str(b["name"]) ?? "default";
  const last = stored.filter((s) => s.sha === m[2] && s.context === name).at(-1);
  if (last && (last.state === "pending" || last.state === "running")) {
    if (last.state === state || (last.state === "running" && state === "pending")) {
      const event = GITLAB_EVENT[state]!;
      return send(res, 400, { message: `Cannot transition status via :${event} from :${last.state} (Reason(s): Status cannot transition via "${event}")` });
    }
    Object.assign(last, { state, description: str(b["description"]) ?? last.description, targetUrl: str(b["target_url"]) ?? last.targetUrl });
    return send(res, 201, { id: stored.indexOf(last) + 1, status: last.state, name, description: last.description });
  }
  const s = store(stored, m[2]!, state, name, str(b["description"]) ?? "", str(b["target_url"]));
  send(res, 201, { id: stored.length, status: s.state, name: s.context, description: s.description, target_url: s.targetUrl });
}

function store(stored: StoredStatus[], sha: string, state: string, context: string, description: string, targetUrl: string | null): StoredStatus {
  const s = { sha, state, context, description, targetUrl };
  stored.push(s);
  return s;
}

function validation(field: string, message: string) {
  return { message: "Validation Failed", errors: [{ resource: "Status", code: "custom", field, message }], documentation_url: "https://docs.github.com/rest/commits/statuses" };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(""));
  });
}

function parseJson(raw: string): unknown {
  try {
    return raw ? JSON.parse(raw) : null;
  } catch {
    return raw;
  }
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

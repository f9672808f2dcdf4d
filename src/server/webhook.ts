// Git push webhooks: GitHub (`X-GitHub-Event`, `X-Hub-Signature-256: sha256=<hmac>`), Gitea/Forgejo
// (`X-Gitea-Event`, `X-Gitea-Signature: <hmac>`) and GitLab (`X-Gitlab-Event`, `X-Gitlab-Token: <secret>`).
// Pure: headers + raw body + secret in, a verdict out. Signatures are HMAC-SHA256 of the raw body, compared
// in constant time; a GitLab token is compared through digests of equal length.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** A push that asks for a reconcile. */
export interface Push {
  provider: "github" | "gitea" | "gitlab";
  branch: string;
  /** The pushed commit (`after`), or null when the payload has none. */
  sha: string | null;
}

/** The verdict on one hook request. */
export type HookVerdict =
  | { kind: "push"; push: Push }
  | { kind: "ignored"; reason: string }
  | { kind: "rejected"; status: 400 | 401; reason: string };

const ZERO_SHA = /^0+$/;

/** Checks the signature (when `secret` is set) and reads the push. */
export function readHook(headers: IncomingHttpHeaders, body: Buffer, secret: string | null): HookVerdict {
  const provider = providerOf(headers);
  if (!provider) return { kind: "rejected", status: 400, reason: "not a GitHub, Gitea or GitLab webhook (no X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event header)" };
  if (secret !== null) {
    const bad = checkSignature(headers, body, secret);
    if (bad) return { kind: "rejected", status: 401, reason: bad };
  }
  const event = String(header(headers, "x-github-event") ?? header(headers, "x-gitea-event") ?? header(headers, "x-gitlab-event") ?? "");
  if (event === "ping") return { kind: "ignored", reason: "ping" };
  if (event !== "push" && event !== "Push Hook") return { kind: "ignored", reason: `event "${event}" is not a push` };
  let payload: { ref?: unknown; after?: unknown; checkout_sha?: unknown };
  try {
    payload = JSON.parse(body.toString("utf8")) as typeof payload;
  } catch {
    return { kind: "rejected", status: 400, reason: "the payload is not JSON (GitHub: set the content type to application/json)" };
  }
  const ref = typeof payload.ref === "string" ? payload.ref : "";
  if (!ref.startsWith("refs/heads/")) return { kind: "ignored", reason: ref ? `${ref} is not a branch` : "the push names no ref" };
  const after = typeof payload.after === "string" ? payload.after : typeof payload.checkout_sha === "string" ? payload.checkout_sha : null;
  if (after !== null && ZERO_SHA.test(after)) return { kind: "ignored", reason: `${ref} was deleted` };
  return { kind: "push", push: { provider, branch: ref.slice("refs/heads/".length), sha: after && /^[0-9a-f]{40,64}$/i.test(after) ? after : null } };
}

/** Why the request's signature does not match `secret`, or null when it does. */
export function checkSignature(headers: IncomingHttpHeaders, body: Buffer, secret: string): string | null {
  const hub = header(headers, "x-hub-signature-256");
  const gitea = header(headers, "x-gitea-signature");
  const gitlab = header(headers, "x-gitlab-token");
  const mac = (): Buffer => createHmac("sha256", secret).update(body).digest();
  if (hub !== undefined) return sameHex(hub.replace(/^sha256=/, ""), mac()) ? null : "X-Hub-Signature-256 does not match the webhook secret";
  if (gitea !== undefined) return sameHex(gitea, mac()) ? null : "X-Gitea-Signature does not match the webhook secret";
  if (gitlab !== undefined) {
    const d = (s: string): Buffer => createHash("sha256").update(s).digest();
    return timingSafeEqual(d(gitlab), d(secret)) ? null : "X-Gitlab-Token does not match the webhook secret";
  }
  return "the hook is not signed (no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token) but a secret is set";
}

function sameHex(hex: string, expected: Buffer): boolean {
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== expected.length * 2) return false;
  return timingSafeEqual(Buffer.from(hex, "hex"), expected);
}

function providerOf(headers: IncomingHttpHeaders): Push["provider"] | null {
  // Gitea also sends X-GitHub-Event for compatibility: look at its own header first.
  if (header(headers, "x-gitea-event") !== undefined) return "gitea";
  if (header(headers, "x-gitlab-event") !== undefined) return "gitlab";
  if (header(headers, "x-github-event") !== undefined) return "github";
  return null;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Whether a peer address is this machine's loopback (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/i, "");
  return a === "::1" || /^127\.\d+\.\d+\.\d+$/.test(a);
}

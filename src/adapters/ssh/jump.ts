// ProxyJump: one connection per jump host, shared by every target behind it (refcounted), and a
// `direct-tcpip` channel through it per target, used as the target connection's socket. The jump host
// is verified and authenticated like any host; closing the last target behind it closes it.
import type { ClientChannel } from "ssh2";
import { TransportError } from "../../ports/hosts.js";
import { dial, secs, type DialSettings, type Dialed, type Endpoint } from "./dial.js";

/** `[user@]host[:port]` (host may be `[v6]`); one hop only. */
export function parseJump(spec: string): { user: string | null; address: string; port: number } {
  if (spec.includes(",")) throw new Error(`proxyJump ${spec}: only one jump host is supported`);
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m || !m[2]) throw new Error(`proxyJump ${spec}: expected [user@]host[:port]`);
  return { user: m[1] ?? null, address: m[2].replace(/^\[|\]$/g, ""), port: m[3] ? Number(m[3]) : 22 };
}

interface Jump {
  key: string;
  dialed: Promise<Dialed>;
  refs: number;
  closed: Promise<void>;
}

/** A lease on a jump connection: a stream to the target through it, and the release of the lease. */
export interface JumpLease {
  stream: ClientChannel;
  release: () => void;
}

/** The jump connections of one connector. */
export class JumpPool {
  private readonly open = new Map<string, Jump>();
  private readonly live = new Set<Jump>();
  private abort = new AbortController();

  constructor(private readonly settings: DialSettings) {}

  /** A stream to `target` through the jump host `jump` (connected first if not yet). */
  async forward(jump: Endpoint, target: Endpoint, signal: AbortSignal): Promise<JumpLease> {
    const j = this.acquire(jump);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--j.refs > 0) return;
      if (this.open.get(j.key) === j) this.open.delete(j.key);
      j.dialed.then((d) => d.client.end(), () => {});
    };
    try {
      const { client } = await j.dialed.catch((err: TransportError) => {
        throw new TransportError(target.subject, err.causeText, err.kind); // first dialer named another host
      });
      const stream = await forwardOut(client, jump, target, this.settings.connectTimeoutMs, signal);
      return { stream, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Ends every jump connection (after their targets closed) and waits until they are gone. */
  async closeAll(): Promise<void> {
    this.abort.abort();
    this.abort = new AbortController();
    const all = [...this.live];
    this.open.clear();
    for (const j of all) void j.dialed.then((d) => d.client.end(), () => {});
    await Promise.all(all.map((j) => j.closed));
  }

  private acquire(ep: Endpoint): Jump {
    const key = `${ep.user}@${ep.address}:${ep.port} ${ep.identityFile} ${ep.knownHostsFile}`;
    let j = this.open.get(key);
    if (!j) {
      const dialed = dial(ep, this.settings, this.abort.signal);
      const jump: Jump = {
        key,
        dialed,
        refs: 0,
        closed: dialed.then(
          (d) => new Promise<void>((resolve) => d.client.once("close", () => resolve())),
          () => undefined,
        ),
      };
      dialed.catch(() => {});
      this.live.add(jump);
      void jump.closed.then(() => {
        this.live.delete(jump);
        if (this.open.get(key) === jump) this.open.delete(key);
      });
      this.open.set(key, jump);
      j = jump;
    }
    j.refs++;
    return j;
  }
}

/** Opens a `direct-tcpip` channel from the jump host to the target, within the connect timeout. */
function forwardOut(client: Dialed["client"], jump: Endpoint, target: Endpoint, timeoutMs: number, signal: AbortSignal): Promise<ClientChannel> {
  const fail = (text: string, kind: TransportError["kind"]) => new TransportError(target.subject, `${jump.via}${text}`, kind);
  const where = `${target.address}:${target.port}`;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: TransportError | null, stream?: ClientChannel) => {
      if (done) return void stream?.destroy();
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (err) return reject(err);
      stream?.on("error", () => {});
      resolve(stream as ClientChannel);
    };
    const onAbort = () => finish(fail(`connect to ${where} aborted`, "aborted"));
    const timer = setTimeout(() => finish(fail(`connect to ${where} timed out after ${secs(timeoutMs)}`, "connect")), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) return onAbort();
    try {
      client.forwardOut("127.0.0.1", 0, target.address, target.port, (err, stream) =>
        finish(err ? fail(`cannot reach ${where}: ${err.message}`, "connect") : null, stream),
      );
    } catch (err) {
      finish(fail(`jump connection to ${jump.address} is closed: ${(err as Error).message}`, "closed"));
    }
  });
}

// mesh-dns's batched UDP path (Linux): the native addon native/udp-batch (built by scripts/build-native.mjs
// into build/native/udp-batch.node) reads up to 64 datagrams per recvmmsg into buffers shared with this file,
// calls `onBatch` once, and sends every answer written into the out buffer with one sendmmsg. Per datagram
// there is no rinfo object, no address string, no receive Buffer and no send request: Node's dgram spends
// about 14,000 instructions per query on those (bench/dns/README.md), mesh-dns's own answer about 3,500.
// When the addon is missing or cannot load (another arch or libc, no compiler at build time), the server
// uses node:dgram as before and says so in one log line (server.ts).
import { getSystemErrorName } from "node:util";
import { fileURLToPath } from "node:url";

/** Which UDP I/O mesh-dns uses: `batch` (the addon, an error when it cannot load), `dgram` (node:dgram), or
 * `auto` (the addon when it loads, else dgram). */
export type UdpIoSetting = "auto" | "batch" | "dgram";

/** The addon's functions (native/udp-batch/udp_batch.c says what each does). */
interface Addon {
  ABI: number;
  BATCH: number;
  SLOT: number;
  open(address: string, family: number, port: number, bufferBytes: number): [number, number] | number;
  attach(fd: number, rx: ArrayBuffer, rxLen: Int32Array, addrs: Uint8Array, txMeta: Int32Array, tx: Uint8Array, onBatch: (n: number) => number): object;
  sendTo(handle: object, data: Uint8Array, addr: Uint8Array): number;
  close(handle: object): void;
}

/** The addon API this code calls (native/udp-batch/udp_batch.c's UDP_BATCH_ABI): an addon of another number is a
 * stale copy (built from an earlier amphi, or left on a host) and is not loaded. */
export const ADDON_ABI = 1;

/** The addon, or why it is not there. */
export type AddonLoad = { addon: Addon } | { error: string };

/** Where `amphi dns` finds the addon: build/native/ of this package (from src/ and dist/ alike). */
export const PACKAGE_ADDON = fileURLToPath(new URL("../../../build/native/udp-batch.node", import.meta.url));

const loads = new Map<string, AddonLoad>();

/** Loads the addon from the first of `paths` that loads (once per path and process). */
export function loadUdpBatch(paths: readonly string[]): AddonLoad {
  if (process.platform !== "linux") return { error: `batched UDP I/O is Linux-only (this is ${process.platform})` };
  const errors: string[] = [];
  for (const path of paths) {
    let load = loads.get(path);
    if (!load) {
      load = tryLoad(path);
      loads.set(path, load);
    }
    if ("addon" in load) return load;
    errors.push(load.error);
  }
  return { error: errors.join("; ") || "no addon path given" };
}

function tryLoad(path: string): AddonLoad {
  try {
    const mod = { exports: {} as Addon };
    process.dlopen(mod, path);
    if (typeof mod.exports.attach !== "function" || mod.exports.BATCH <= 0) return { error: `${path}: not the udp-batch addon` };
    if (mod.exports.ABI !== ADDON_ABI) {
      return { error: `${path}: a stale udp-batch addon (ABI ${mod.exports.ABI ?? "none"}, this program needs ${ADDON_ABI}); rebuild it (npm run build) or let capture replace it` };
    }
    return { addon: mod.exports };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: err.code === "ERR_DLOPEN_FAILED" && /No such file/.test(err.message) ? `${path} not built` : `${path}: ${err.message.split("\n")[0]}` };
  }
}

/** Handles one datagram of a batch (`source` is its index, for `BatchUdp.source`): the answer to send now,
 * or null (none, or one sent later with `sendTo`). `msg` is a view of the shared receive buffer: valid only
 * during the call; copy what must outlive it. */
export type BatchHandler = (msg: Buffer, source: number, socket: BatchUdp) => Buffer | null;

const ADDR = 32;
/** Out-buffer bytes per datagram of a batch; an answer that does not fit goes out alone (zone answers are < 300 bytes). */
const TX_PER_DATAGRAM = 1024;

/** One bound UDP socket served in batches. */
export class BatchUdp {
  /** Batches handled, datagrams in them, and the largest batch (datagrams) so far. */
  readonly counts = { batches: 0, datagrams: 0, largest: 0 };
  private handle: object | null = null;
  private readonly slots: Buffer[] = [];
  private readonly rxLen: Int32Array;
  private readonly addrs: Uint8Array;
  private readonly txMeta: Int32Array;
  private readonly tx: Buffer;

  private constructor(
    private readonly addon: Addon,
    fd: number,
    readonly port: number,
    private readonly handler: BatchHandler,
  ) {
    const { BATCH, SLOT } = addon;
    // Virtual size BATCH × 64 KiB: any UDP datagram fits whole; only the pages datagrams touch are resident.
    const rx = new ArrayBuffer(BATCH * SLOT);
    for (let i = 0; i < BATCH; i++) this.slots.push(Buffer.from(rx, i * SLOT, SLOT));
    this.rxLen = new Int32Array(BATCH);
    this.addrs = new Uint8Array(BATCH * ADDR);
    this.txMeta = new Int32Array(BATCH * 3);
    this.tx = Buffer.alloc(BATCH * TX_PER_DATAGRAM);
    this.handle = addon.attach(fd, rx, this.rxLen, this.addrs, this.txMeta, this.tx, (n) => this.onBatch(n));
  }

  /** Binds `address:port` (0: a free port) and starts serving; throws Node's bind error shape
   * (`bind EADDRINUSE 127.0.0.1:53`, with `code`) when the socket cannot be bound. */
  static bind(addon: Addon, address: string, port: number, bufferBytes: number, handler: BatchHandler): BatchUdp {
    const r = addon.open(address, address.includes(":") ? 6 : 4, port, bufferBytes);
    if (typeof r === "number") throw bindError(r, address, port);
    return new BatchUdp(addon, r[0], r[1], handler);
  }

  /** The raw source address (sockaddr) of datagram `i` of the batch being handled, copied: keep it to answer
   * later with `sendTo`. */
  source(i: number): Uint8Array {
    return this.addrs.slice(i * ADDR, (i + 1) * ADDR);
  }

  /** Sends one datagram to a `source` address now. A failure (socket full, closed) drops it, as UDP may. */
  sendTo(data: Uint8Array, addr: Uint8Array): void {
    if (this.handle !== null) this.addon.sendTo(this.handle, data, addr);
  }

  /** Stops reading and closes the socket. Called while a batch is handled, the rest of that batch is neither
   * handled nor answered. */
  close(): void {
    if (this.handle === null) return;
    const h = this.handle;
    this.handle = null;
    this.addon.close(h);
  }

  private onBatch(n: number): number {
    const { slots, rxLen, txMeta, tx, counts } = this;
    counts.batches++;
    counts.datagrams += n;
    if (n > counts.largest) counts.largest = n;
    let k = 0;
    let at = 0;
    for (let i = 0; i < n && this.handle !== null; i++) {
      const out = this.handler(slots[i]!.subarray(0, rxLen[i]!), i, this);
      if (out === null) continue;
      const len = out.length;
      if (at + len > tx.length) {
        this.sendTo(out, this.addrs.subarray(i * ADDR, (i + 1) * ADDR)); // sent now: no copy of the address
        continue;
      }
      tx.set(out, at);
      txMeta[3 * k] = i;
      txMeta[3 * k + 1] = at;
      txMeta[3 * k + 2] = len;
      k++;
      at += len;
    }
    return k;
  }
}

function bindError(errno: number, address: string, port: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`bind ${code} ${address}:${port}`), { code, errno, syscall: "bind", address, port });
}

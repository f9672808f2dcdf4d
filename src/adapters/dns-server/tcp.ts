// DNS over TCP on one connection (RFC 7766): messages framed by a 2-byte length, several per connection,
// answered as they complete (a forwarded one may overtake none or be overtaken: clients match by ID).
// Idle connections are closed; a client that half-closes still gets its pending answers.
import type { Socket } from "node:net";

/** At most this many queries of one connection in flight; reading pauses beyond it. */
const MAX_IN_FLIGHT = 64;

/** Handles one framed message; must call `send` exactly once, with the answer or null (none). */
export type TcpHandler = (msg: Buffer, send: (resp: Buffer | null) => void) => void;

/** Serves one accepted connection until the client closes it, it idles `idleMs`, or it misbehaves. */
export function serveTcpConnection(socket: Socket, idleMs: number, handle: TcpHandler): void {
  let buf: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let peerEnded = false;
  socket.setTimeout(idleMs, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("end", () => {
    peerEnded = true;
    if (inFlight === 0) socket.end();
  });
  const finish = (resp: Buffer | null): void => {
    if (resp !== null && !socket.destroyed && socket.writable) {
      const frame = Buffer.allocUnsafe(2 + resp.length);
      frame.writeUInt16BE(resp.length, 0);
      resp.copy(frame, 2);
      socket.write(frame);
    }
    inFlight--;
    if (inFlight < MAX_IN_FLIGHT && socket.isPaused()) socket.resume();
    if (peerEnded && inFlight === 0 && !socket.destroyed) socket.end();
  };
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (len === 0) return void socket.destroy();
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      inFlight++;
      let sent = false;
      handle(msg, (resp) => {
        if (sent) return;
        sent = true;
        finish(resp);
      });
    }
    if (inFlight >= MAX_IN_FLIGHT) socket.pause();
  });
}

// The ceiling of any mesh-dns written on node:dgram: a UDP responder that does no DNS work at all. It
// sets QR on the query and sends it back (dnsperf counts it as an answer), through the same public API as
// mesh-dns (one socket, 1 MiB buffers, a synchronous literal-address lookup). bench/dns --echo measures it
// beside dnsmasq and amphi: amphi/echo is what mesh-dns's own code costs, echo/dnsmasq what Node costs.
// Usage: node bench/dns/node-echo.ts — prints `listening <port>` on stdout.
import { createSocket } from "node:dgram";

const socket = createSocket({ type: "udp4", recvBufferSize: 1 << 20, sendBufferSize: 1 << 20, lookup: (address, _family, callback) => callback(null, address, 4) });
socket.on("message", (msg, rinfo) => {
  msg[2] = msg[2]! | 0x80;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.on("error", () => {});
socket.bind(0, "127.0.0.1", () => console.log(`listening ${socket.address().port}`));

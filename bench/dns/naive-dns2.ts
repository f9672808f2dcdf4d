// The baseline bench/dns compares against: a straightforward dns2 server (its UDP server, Packet.parse for
// every query, a Packet response written by dns2's writer), answering the same names from a Set.
// Usage: node --import tsx bench/dns/naive-dns2.ts <names-file> — prints `listening <port>` on stdout.
import { readFileSync } from "node:fs";
import { Packet, UDPServer, type Resource } from "dns2";

const names = new Set(readFileSync(process.argv[2]!, "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")[0]!.toLowerCase()));
const server = new UDPServer((request, send) => {
  const response = Packet.createResponseFromRequest(request);
  const q = request.questions[0];
  if (!q) return; // dns2 hands over malformed packets with no question
  response.header.aa = 1;
  response.header.ra = 1;
  if (names.has(q.name.toLowerCase()) && q.type === Packet.TYPE.A) {
    response.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address: "10.255.0.1" } as Resource);
  }
  void send(response);
});
server.on("error", () => {});
await server.listen(0, "127.0.0.1");
console.log(`listening ${server.address().port}`);

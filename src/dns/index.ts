// mesh-dns's core (pure): registered service names → a Zone; a query (wire bytes) → the zone's answer, an
// error answer, or "forward" (null). The sockets, upstream forwarding and Consul watch are in
// src/adapters/dns-server/.
export * from "./wire.js";
export * from "./zone.js";
export * from "./answer.js";

// mesh-dns settings: upstream syntax, resolv.conf, the listen policy, redacted URLs, stats lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatStats, formatUpstream, listenProblem, parseUpstream, redact, systemUpstreams } from "../../src/adapters/dns-server/index.js";
import { newStats } from "../../src/adapters/dns-server/stats.js";

test("upstreams: IP, IP:port, [IPv6], [IPv6]:port; IPv6 in canonical form; anything else is an error naming it", () => {
  assert.deepEqual(parseUpstream("10.0.0.2"), { host: "10.0.0.2", port: 53, family: 4 });
  assert.deepEqual(parseUpstream("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353, family: 4 });
  assert.deepEqual(parseUpstream("[2001:DB8:0:0::1]:53"), { host: "2001:db8::1", port: 53, family: 6 });
  assert.deepEqual(parseUpstream("::1"), { host: "::1", port: 53, family: 6 });
  assert.equal(formatUpstream(parseUpstream("[::1]:5300")), "[::1]:5300");
  assert.throws(() => parseUpstream("dns.google"), /upstream "dns.google": not an IP address/);
  assert.throws(() => parseUpstream("10.0.0.1:0"), /bad port/);
  assert.throws(() => parseUpstream("10.0.0.1:99999"), /bad port/);
});

test("resolv.conf: nameservers in order, mesh-dns's own address skipped, systemd-resolved's stub replaced by its upstreams", () => {
  const files: Record<string, string> = {
    "/etc/resolv.conf": "# comment\nsearch corp\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\noptions ndots:2\n",
  };
  const read = (p: string): string | null => files[p] ?? null;
  const plain = systemUpstreams(["127.0.0.1"], read);
  assert.deepEqual(plain.upstreams.map(formatUpstream), ["10.0.0.2:53", "[fe80::1]:53"]);
  assert.match(plain.notes.join("\n"), /skipped mesh-dns's own address/);
  files["/etc/resolv.conf"] = "nameserver 127.0.0.53\noptions edns0 trust-ad\n";
  files["/run/systemd/resolve/resolv.conf"] = "nameserver 192.168.1.1\nnameserver 192.168.1.2\n";
  const resolved = systemUpstreams(["127.0.0.1"], read);
  assert.deepEqual(resolved.upstreams.map(formatUpstream), ["192.168.1.1:53", "192.168.1.2:53"]);
  assert.match(resolved.notes.join("\n"), /systemd-resolved/);
  assert.deepEqual(systemUpstreams(["127.0.0.1"], () => null).upstreams, []);
});

test("listen policy: loopback and private addresses pass; wildcard and public ones need --allow-open-resolver", () => {
  for (const ok of ["127.0.0.1", "127.0.0.53", "::1", "10.1.2.3", "172.16.0.1", "192.168.0.10", "100.64.0.1", "169.254.1.1", "fd00::1", "fe80::1"]) {
    assert.equal(listenProblem(ok, false), null, ok);
  }
  for (const bad of ["0.0.0.0", "::", "8.8.8.8", "172.32.0.1", "2001:db8::1"]) {
    assert.match(listenProblem(bad, false) ?? "", /open resolver/, bad);
    assert.equal(listenProblem(bad, true), null, `${bad} with --allow-open-resolver`);
  }
  assert.match(listenProblem("localhost", true) ?? "", /not an IP address/);
});

test("URLs lose their credentials before they are logged; stats print in a fixed order", () => {
  assert.equal(redact("http://user:pass@consul.internal:8500/"), "http://consul.internal:8500");
  assert.equal(redact("127.0.0.1:8500"), "http://127.0.0.1:8500");
  const s = newStats();
  s.queries = 3;
  s.zone = 2;
  s.forwarded = 1;
  assert.equal(formatStats(s), "queries=3 tcp=0 zone=2 forwarded=1 relayed=0 servfail=0 formerr=0 notimp=0 dropped=0 truncated=0");
});

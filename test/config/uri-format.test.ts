// The `uri` format's fast path (src/config/uri-format.ts) accepts exactly what ajv-formats' full RFC 3986 check
// accepts: listed cases, and random strings built from URL characters.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { uri } from "../../src/config/uri-format.js";

const full = (createRequire(import.meta.url)("ajv-formats/dist/formats") as { fullFormats: { uri: (s: string) => boolean } }).fullFormats.uri;

describe("uri format", () => {
  it("agrees with ajv-formats on listed URLs, valid and not", () => {
    const cases = [
      "https://downloads.example.com/billing/billing-2.3.0.tar.gz",
      "http://10.0.0.5:8080/pkg.tgz?sig=a%2Fb&x=1#frag",
      "HTTPS://Example.COM:/",
      "https://example.com",
      "http://user:pw@example.com/x",
      "https://[::1]:8443/a",
      "https://[v1.fe]/a",
      "http://exa mple.com/",
      "http://example.com/%zz",
      "http://example.com/a b",
      "http://example.com/<x>",
      "https://example.com:80a/",
      "http://ex%41mple.com/",
      "ftp://example.com/x",
      "https:example",
      "",
      "https://",
      "https://example.com/ä",
    ];
    for (const s of cases) assert.equal(uri(s), full(s), JSON.stringify(s));
    assert.equal(uri("https://downloads.example.com/billing-2.3.0.tar.gz"), true);
    assert.equal(uri("http://exa mple.com/"), false);
  });

  it("agrees with ajv-formats on 20,000 random strings of URL characters", () => {
    // A fixed linear congruential generator: the same strings every run.
    let seed = 12345;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const heads = ["http://", "https://", "HTTP://", "http:/", "https:", "hxxp://", ""];
    const alphabet = "abcXYZ019-._~!$&'()*+,;=:@/?#%[] \"<>^`{|}\\Ä";
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let s = heads[next(heads.length)]!;
      for (let k = next(24); k > 0; k--) s += next(5) === 0 ? `%${"0aF g"[next(5)]}${"1Bz7"[next(4)]}` : alphabet[next(alphabet.length)];
      const got = uri(s);
      assert.equal(got, full(s), JSON.stringify(s));
      if (got) accepted++;
    }
    // Both kinds occur, or the comparison above proved little.
    assert.ok(accepted > 1000 && accepted < 19_000, `${accepted} of 20,000 accepted`);
  });
});

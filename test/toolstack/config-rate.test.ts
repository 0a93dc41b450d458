import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseRate } from "../../src/netback/credit.js";
import { formatIssue, parseHostConfig } from "../../src/toolstack/config.js";
import { parseRateConfig } from "../../src/toolstack/config-rate.js";

test("rates as xl writes them become the backend's key, bytes per interval", () => {
  const key = (t: string) => {
    const r = parseRateConfig(t);
    assert.ok(r.ok, `${t}: ${JSON.stringify(r)}`);
    return r.key;
  };
  assert.equal(key("10Mbit/s"), "62500,50000");
  assert.equal(key("10Mb/s"), "62500,50000");
  assert.equal(key("50Mbit/s"), "312500,50000");
  assert.equal(key("1MB/s@20ms"), "20000,20000");
  assert.equal(key("8000bit/s@1000ms"), "1000,1000000");
  assert.equal(key("1.5Gbit/s@10ms"), "1875000,10000");
  assert.equal(key("625000,100000"), "625000,100000");
  for (const bad of [
    "",
    "10",
    "10Mbit",
    "10 Mbit/s",
    "10mbit/s",
    "0,50000",
    "1000,10",
    "1bit/s",
    "10Mbit/s@0ms",
    "-1,5",
  ])
    assert.equal(parseRateConfig(bad).ok, false, bad);
});

test("property: every accepted rate gives a key netback parses, within a byte per interval of what was asked", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 1000 }), (mbit, ms) => {
      const r = parseRateConfig(`${mbit}Mbit/s@${ms}ms`);
      assert.ok(r.ok);
      const k = parseRate(r.key);
      assert.ok(k !== undefined);
      assert.equal(k.usec, ms * 1000);
      assert.ok(Math.abs((k.bytes * 1e6) / k.usec - (mbit * 1e6) / 8) <= 1e6 / k.usec);
    }),
  );
});

test("a bad rate in a host file names the field", () => {
  const r = parseHostConfig(
    "domains:\n  - name: Domain-0\n  - name: a\n    vifs: [{ rate: 10Mbps }]\nbridges:\n  vale0: {}\n",
    "h.yaml",
  );
  assert.ok(!r.ok);
  const text = r.issues.map(formatIssue).join("\n");
  assert.match(text, /domains\[1\]\.vifs\[0\]\.rate/);
  assert.match(text, /"10Mbps" is not a rate/);
  const good = parseHostConfig(
    "domains:\n  - name: Domain-0\n  - name: a\n    vifs: [{ rate: 10Mbit/s }]\nbridges:\n  vale0: {}\n",
    "h.yaml",
  );
  assert.ok(good.ok);
  assert.equal(good.config.domains[1]!.vifs[0]!.rate, "62500,50000");
});

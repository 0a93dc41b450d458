import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseHostConfig } from "../../src/toolstack/config.js";

const host = (vif: string) =>
  `domains:\n  - name: Domain-0\n  - name: a\n    vifs: [${vif}]\nbridges:\n  vale0: {}\n`;

test("passthrough: true reaches the vif's config; absent means a netif vif", () => {
  const pt = parseHostConfig(host("{ passthrough: true }"), "h.yaml");
  assert.ok(pt.ok);
  assert.equal(pt.config.domains[1]!.vifs[0]!.passthrough, true);
  const dflt = parseHostConfig(host("{}"), "h.yaml");
  assert.ok(dflt.ok);
  assert.equal(dflt.config.domains[1]!.vifs[0]!.passthrough, undefined);
});

test("a bad passthrough names the field; passthrough with several queues names queues", () => {
  const bad = parseHostConfig(host("{ passthrough: yes please }"), "h.yaml");
  assert.ok(!bad.ok);
  assert.match(bad.issues.map(formatIssue).join("\n"), /domains\[1\]\.vifs\[0\]\.passthrough/);
  const multi = parseHostConfig(host("{ passthrough: true, queues: 2 }"), "h.yaml");
  assert.ok(!multi.ok);
  const text = multi.issues.map(formatIssue).join("\n");
  assert.match(text, /domains\[1\]\.vifs\[0\]\.queues/);
  assert.match(text, /passthrough/);
});

test("keys of the netif datapath a passthrough vif leaves idle are refused with it, each named", () => {
  for (const [extra, key] of [
    ['rate: "10Mbit/s"', "rate"],
    ["xdp-headroom: 64", "xdp-headroom"],
    ["rx-mode: flip", "rx-mode"],
  ] as const) {
    const r = parseHostConfig(host(`{ passthrough: true, ${extra} }`), "h.yaml");
    assert.ok(!r.ok, extra);
    const text = r.issues.map(formatIssue).join("\n");
    assert.match(text, new RegExp(`domains\\[1\\]\\.vifs\\[0\\]\\.${key}: .*passthrough`), text);
    // The same key on a netif vif is fine.
    assert.ok(parseHostConfig(host(`{ ${extra} }`), "h.yaml").ok, `${extra} without passthrough`);
  }
});

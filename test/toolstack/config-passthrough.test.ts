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

test("passthrough-slots reaches the vif's config; a bad one, or one without passthrough, names the field", () => {
  const ok = parseHostConfig(host("{ passthrough: true, passthrough-slots: 4096 }"), "h.yaml");
  assert.ok(ok.ok);
  assert.equal(ok.config.domains[1]!.vifs[0]!.passthroughSlots, 4096);
  const dflt = parseHostConfig(host("{ passthrough: true }"), "h.yaml");
  assert.ok(dflt.ok);
  assert.equal(dflt.config.domains[1]!.vifs[0]!.passthroughSlots, undefined);
  for (const [vif, why] of [
    [
      "{ passthrough: true, passthrough-slots: 1000 }",
      /passthrough-slots: .*64, 128, 256, 512, 1024, 2048, 4096/,
    ],
    ["{ passthrough: true, passthrough-slots: 8192 }", /passthrough-slots/],
    ["{ passthrough-slots: 1024 }", /passthrough-slots: 1024 without passthrough: true/],
  ] as const) {
    const r = parseHostConfig(host(vif), "h.yaml");
    assert.ok(!r.ok, vif);
    const text = r.issues.map(formatIssue).join("\n");
    assert.match(text, /domains\[1\]\.vifs\[0\]\.passthrough-slots/, text);
    assert.match(text, why, text);
  }
});

test("passthrough areas that do not fit the domain's memory are refused, naming the vif that overflows it", () => {
  const yaml = (mem: string, slots: number) =>
    `domains:\n  - name: Domain-0\n  - name: a\n    memory: ${mem}\n    vifs:\n` +
    `      - { passthrough: true, passthrough-slots: ${slots} }\n` +
    `      - { passthrough: true, passthrough-slots: ${slots}, mac: "00:16:3e:00:09:01" }\nbridges:\n  vale0: {}\n`;
  assert.ok(parseHostConfig(yaml("64M", 4096), "h.yaml").ok);
  const r = parseHostConfig(yaml("32M", 4096), "h.yaml");
  assert.ok(!r.ok);
  const text = r.issues.map(formatIssue).join("\n");
  assert.match(
    text,
    /domains\[1\]\.vifs\[1\]\.passthrough-slots: 4096 slots: .* need 32\.3 MiB of its 32 MiB/,
    text,
  );
  assert.doesNotMatch(text, /vifs\[0\]/);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseHostConfig } from "../../src/toolstack/config.js";
import { netfrontOptionsOf } from "../../src/toolstack/drivers.js";

const host = (vif: string) =>
  `domains:\n  - name: Domain-0\n  - name: a\n    vifs: [${vif}]\nbridges:\n  vale0: {}\n`;

test("rx-mode: flip reaches netfront as rxFlip; copy is the default", () => {
  const flip = parseHostConfig(host("{ rx-mode: flip }"), "h.yaml");
  assert.ok(flip.ok);
  const v = flip.config.domains[1]!.vifs[0]!;
  assert.equal(v.rxMode, "flip");
  assert.equal(netfrontOptionsOf(v).features?.rxFlip, true);
  const dflt = parseHostConfig(host("{}"), "h.yaml");
  assert.ok(dflt.ok);
  assert.equal(netfrontOptionsOf(dflt.config.domains[1]!.vifs[0]!).features?.rxFlip, false);
});

test("a bad rx-mode names the field", () => {
  const r = parseHostConfig(host("{ rx-mode: flop }"), "h.yaml");
  assert.ok(!r.ok);
  const text = r.issues.map(formatIssue).join("\n");
  assert.match(text, /domains\[1\]\.vifs\[0\]\.rx-mode/);
  assert.match(text, /copy or flip/);
});

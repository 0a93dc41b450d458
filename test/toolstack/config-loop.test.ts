import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseHostConfig } from "../../src/toolstack/config.js";

const host = (dom0: string, guest: string) =>
  `domains:\n  - name: Domain-0\n${dom0}  - name: a\n${guest}    vifs: [{}]\nbridges:\n  vale0: {}\n`;

test("loop: a guest's mode reaches its DomainConfig; unset leaves the host's default", () => {
  const r = parseHostConfig(host("    loop: adaptive\n", "    loop: block\n"), "h.yaml");
  assert.ok(r.ok);
  assert.equal(r.config.domains[0]!.loop, "adaptive");
  assert.equal(r.config.domains[1]!.loop, "block");
  const d = parseHostConfig(host("", ""), "h.yaml");
  assert.ok(d.ok);
  assert.equal(d.config.domains[1]!.loop, undefined);
});

test("a bad loop names the field; Domain-0 may not block", () => {
  const bad = parseHostConfig(host("", "    loop: sleepy\n"), "h.yaml");
  assert.ok(!bad.ok);
  const text = bad.issues.map(formatIssue).join("\n");
  assert.match(text, /domains\[1\]\.loop/);
  assert.match(text, /block/);
  const d0 = parseHostConfig(host("    loop: block\n", ""), "h.yaml");
  assert.ok(!d0.ok);
  assert.match(d0.issues.map(formatIssue).join("\n"), /domains\[0\]\.loop.*cannot block/);
});

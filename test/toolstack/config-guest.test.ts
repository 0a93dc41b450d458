/**
 * A guest file is checked as a host file's guest entry: the same schema and rules, its
 * fields named from the file's own top with their line and column.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue } from "../../src/toolstack/config.js";
import { parseGuestConfig } from "../../src/toolstack/config-guest.js";

test("a guest file with defaults: vifs numbered, MACs left to create when not given", () => {
  const r = parseGuestConfig(
    "name: g\nmemory: 64M\nvifs:\n  - ip: 10.1.0.5/16\n  - mac: 00:16:3E:AA:00:01\n    bridge: vale1\n",
    "g.yaml",
    ["vale0", "vale1"],
  );
  assert.ok(r.ok);
  assert.equal(r.guest.name, "g");
  assert.equal(r.guest.memoryMiB, 64);
  assert.equal(r.guest.vifs.length, 2);
  assert.equal(r.guest.vifs[0]!.bridge, "vale0");
  assert.equal(r.guest.vifs[0]!.ip?.prefix, 16);
  assert.equal(r.guest.vifs[1]!.mac, "00:16:3e:aa:00:01");
  assert.deepEqual(r.derivedMacs, [0]);
});

test("what is wrong is named from the guest file's top, with its line and column", () => {
  const cases: [string, string][] = [
    ["name: g\nvifs:\n  - mac: zz\n", "g.yaml:3:10: vifs[0].mac: "],
    [
      "name: g\nvifs:\n  - bridge: vale9\n",
      'g.yaml:3:13: vifs[0].bridge: no bridge named "vale9" (expected one of: vale0)',
    ],
    ["memory: 1M\n", 'g.yaml:1:1: (top level): missing key "name"'],
    ["name: g\nextra: 1\n", "g.yaml:2:1: extra: "],
    ["name: Domain-0\n", "g.yaml:1:7: name: Domain-0 is not the first domain"],
    [
      "name: g\nvifs:\n  - ip: 10.0.0.1/24\n  - ip: 10.0.0.1/24\n",
      "g.yaml:4:9: vifs[1].ip: 10.0.0.1 is already used by vifs[0].ip",
    ],
    ["name: g\nvifs:\n  - script: x.sh\n", "g.yaml:3:13: vifs[0].script: "],
    ["- 1\n", "g.yaml:1:1: (top level): "],
    ["name: [\n", "g.yaml:2:1: YAML: "],
  ];
  for (const [text, start] of cases) {
    const r = parseGuestConfig(text, "g.yaml", ["vale0"]);
    assert.equal(r.ok, false, text);
    if (!r.ok)
      assert.ok(formatIssue(r.issues[0]!).startsWith(start), `${text}: ${formatIssue(r.issues[0]!)}`);
  }
});

/**
 * Host files: the embedded default, defaults and freezing, and a table of broken files
 * each reported at the right field and line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse, parseDocument, stringify } from "yaml";
import { PvnetError } from "../../src/base/errors.js";
import {
  DEFAULT_HOST_YAML,
  defaultHostConfig,
  formatIssue,
  type HostConfig,
  loadHostConfig,
  parseHostConfig,
} from "../../src/toolstack/config.js";
import { ALL_VIF_FEATURES } from "../../src/toolstack/config-types.js";

function ok(text: string): HostConfig {
  const r = parseHostConfig(text, "t.yaml");
  if (!r.ok) assert.fail(r.issues.map(formatIssue).join("\n"));
  return r.config;
}

test("the default host: Domain-0 with vale0 and two guests, 10.0.0.1 and 10.0.0.2", () => {
  const c = ok(DEFAULT_HOST_YAML);
  assert.deepEqual(
    c.domains.map((d) => [d.domid, d.name, d.memoryMiB, d.pages, d.vifs.length]),
    [
      [0, "Domain-0", 64, 16384, 0],
      [1, "guest1", 32, 8192, 1],
      [2, "guest2", 32, 8192, 1],
    ],
  );
  assert.deepEqual(
    c.bridges.map((b) => [b.name, b.uplinks.length, b.capture]),
    [["vale0", 0, undefined]],
  );
  const [v1, v2] = [c.domains[1].vifs[0], c.domains[2].vifs[0]];
  assert.deepEqual(
    [v1.mac, v1.ip?.address, v1.ip?.prefix, v1.ip?.network],
    ["00:16:3e:00:01:00", "10.0.0.1", 24, "10.0.0.0"],
  );
  assert.deepEqual([v2.mac, v2.ip?.address], ["00:16:3e:00:02:00", "10.0.0.2"]);
  // guest2 writes only mac, ip and bridge: the rest must come out as guest1 spells it out.
  assert.deepEqual(v2, { ...v1, mac: v2.mac, ip: v2.ip });
  assert.deepEqual([v2.queues, v2.ringPageOrder, v2.bridge, v2.devid], [1, 0, "vale0", 0]);
  assert.deepEqual(
    v2.features,
    ALL_VIF_FEATURES,
    "every feature Linux netfront offers; multicast control off, as it never asks",
  );
  assert.deepEqual(defaultHostConfig(), c);
});

test("trusted: defaults to true, false is kept per vif", () => {
  const c = ok(DEFAULT_HOST_YAML.replace("trusted: true", "trusted: false"));
  assert.equal(c.domains[1].vifs[0].trusted, false);
  assert.equal(c.domains[2].vifs[0].trusted, true, "guest2 leaves it out");
  assert.equal(ok(DEFAULT_HOST_YAML).domains[1].vifs[0].trusted, true);
});

test("the default round-trips: re-emitted YAML (data or the commented document) gives the same host", () => {
  const c = ok(DEFAULT_HOST_YAML);
  assert.deepEqual(ok(stringify(parse(DEFAULT_HOST_YAML))), c);
  const doc = parseDocument(DEFAULT_HOST_YAML);
  const again = doc.toString();
  assert.deepEqual(ok(again), c);
  assert.match(again, /# Domain-0 comes first/, "comments survive the round trip");
});

test("the result is frozen all the way down", () => {
  const c = ok(DEFAULT_HOST_YAML);
  const objs: unknown[] = [c, c.domains, c.domains[1], c.domains[1].vifs[0], c.domains[1].vifs[0].features];
  objs.push(c.domains[1].vifs[0].ip, c.bridges, c.bridges[0], c.bridges[0].uplinks);
  for (const o of objs) assert.ok(Object.isFrozen(o));
  assert.throws(() => {
    (c.domains[1].vifs[0] as { queues: number }).queues = 8;
  }, TypeError);
});

test("defaults: memory, vifs, bridge, queues, ring order, features; a missing MAC is derived from domid and devid", () => {
  const c = ok(`
domains:
  - name: Domain-0
  - name: g
    vifs: [{}, { mac: "02:00:00:00:00:01", features: { sg: false } }]
bridges: { vale0: }
`);
  assert.equal(c.domains[0].memoryMiB, 32);
  assert.deepEqual(c.domains[0].vifs, []);
  const [a, b] = c.domains[1].vifs;
  assert.deepEqual(
    [a.mac, a.ip, a.bridge, a.queues, a.ringPageOrder],
    ["00:16:3e:00:01:00", undefined, "vale0", 1, 0],
  );
  assert.deepEqual(
    [b.devid, b.mac, b.features.sg, b.features.gsoTcpv4],
    [1, "02:00:00:00:00:01", false, true],
  );
  assert.deepEqual(ok("domains: [{ name: Domain-0, memory: 1G }]").domains[0].pages, 262144);
  assert.deepEqual(ok("domains: [{ name: Domain-0, memory: 4096 }]").bridges, []);
});

test("uplinks: a VXLAN entry is taken with port and mtu defaulted; two on one address and port are refused", () => {
  const c = ok(`
domains: [{ name: Domain-0 }]
bridges:
  vale0:
    uplinks: [{ vxlan: { local: 192.0.2.1, vni: 42, remotes: [192.0.2.2, "192.0.2.3:4790"] } }]
`);
  assert.deepEqual(c.bridges[0].uplinks, [
    {
      vxlan: { local: "192.0.2.1", port: 4789, vni: 42, remotes: ["192.0.2.2", "192.0.2.3:4790"], mtu: 1450 },
    },
  ]);
  const r = parseHostConfig(
    `
domains: [{ name: Domain-0 }]
bridges:
  vale0:
    uplinks: [{ vxlan: { local: 0.0.0.0, vni: 1, remotes: ["192.0.2.2:70000"] } }]
  vale1:
    uplinks: [{ vxlan: { local: 192.0.2.1, port: 4789, vni: 2, remotes: [] } }]
`,
    "h.yaml",
  );
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.issues.map((i) => [i.field, i.problem]), [
    ["bridges.vale0.uplinks[0].vxlan.remotes[0]", "192.0.2.2:70000: port 70000 is not from 1 to 65535"],
    [
      "bridges.vale1.uplinks[0].vxlan.port",
      "192.0.2.1:4789 is already bound by bridges.vale0.uplinks[0].vxlan",
    ],
  ]);
  assert.deepEqual(ok("domains: [{ name: Domain-0 }]\nbridges:\n  vale0: { uplinks: [] }").bridges[0], {
    name: "vale0",
    uplinks: [],
    taps: [],
    capture: undefined,
  });
  // The tap variant is taken (config-tap.ts), named once; a bad name is named by its field.
  assert.deepEqual(
    ok(
      "domains: [{ name: Domain-0 }]\nbridges:\n  vale0: { uplinks: [{ tap: { name: tap0 } }, { tap: { name: t1, fd: 5 } }] }",
    ).bridges[0]!.taps,
    [
      { name: "tap0", fd: undefined },
      { name: "t1", fd: 5 },
    ],
  );
  const badTap = parseHostConfig(
    "domains: [{ name: Domain-0 }]\nbridges:\n  vale0: { uplinks: [{ tap: { name: a/b } }] }",
    "h.yaml",
  );
  assert.ok(
    !badTap.ok && badTap.issues.some((i) => i.field === "bridges.vale0.uplinks[0].tap.name"),
    JSON.stringify(badTap),
  );
});

test("capture: file, format (default pcap) and count are taken as written", () => {
  const dir = tmpdir();
  const f = join(dir, "vale0.pcapng");
  const c = ok(
    `domains: [{ name: Domain-0 }]\nbridges:\n  vale0: { capture: { file: "${f}", format: pcapng, count: 5 } }\n  vale1: { capture: { file: v1.pcap } }`,
  );
  assert.deepEqual(
    c.bridges.map((b) => b.capture),
    [
      { file: f, format: "pcapng", count: 5 },
      { file: "v1.pcap", format: "pcap", count: undefined },
    ],
  );
});

test("capture: a missing directory, a shared file, a bad format or count are each one clear error", () => {
  const issues = (bridges: string): [string, string][] => {
    const r = parseHostConfig(`domains: [{ name: Domain-0 }]\nbridges:\n${bridges}`, "h.yaml");
    assert.equal(r.ok, false);
    return r.ok ? [] : r.issues.map((i) => [i.field, formatIssue(i)]);
  };
  const missing = join(tmpdir(), "pvnet-no-such-dir", "x.pcap");
  const one = issues(`  vale0: { capture: { file: "${missing}" } }`);
  assert.equal(one.length, 1);
  assert.equal(one[0]![0], "bridges.vale0.capture.file");
  assert.match(one[0]![1], /pvnet-no-such-dir.* does not exist/);
  assert.deepEqual(
    issues("  vale0: { capture: { file: a.pcap } }\n  vale1: { capture: { file: ./a.pcap } }").map(
      (i) => i[0],
    ),
    ["bridges.vale1.capture.file"],
  );
  assert.deepEqual(
    issues("  vale0: { capture: { file: a.pcap, format: erf, count: 0 } }")
      .map((i) => i[0])
      .sort(),
    ["bridges.vale0.capture.count", "bridges.vale0.capture.format"],
  );
});

test("features: { rx-notify: false } is kept: netfront will not notify and netback polls", () => {
  const c = ok(DEFAULT_HOST_YAML.replace("rx-notify: true", "rx-notify: false"));
  assert.equal(c.domains[1]!.vifs[0]!.features.rxNotify, false);
  assert.equal(c.domains[2]!.vifs[0]!.features.rxNotify, true);
});

/** The default host with `from` replaced by `to` (which must be present once). */
function edit(from: string, to: string): string {
  const at = DEFAULT_HOST_YAML.indexOf(from);
  assert.ok(at >= 0 && DEFAULT_HOST_YAML.indexOf(from, at + 1) < 0, `"${from}" once in the default`);
  return DEFAULT_HOST_YAML.slice(0, at) + to + DEFAULT_HOST_YAML.slice(at + from.length);
}

/** Line (1-based) of the last line of `text` containing `needle` (a duplicate is the later one). */
function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findLastIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `"${needle}" in the file`);
  return i + 1;
}

interface Bad {
  what: string;
  text: string;
  field: string;
  /** A piece of the line the issue must point at. */
  at: string;
  problem: RegExp;
  /** Where on that line the column must be: the start of this text. */
  col?: string;
}

const BAD: Bad[] = [
  {
    what: "queues above 8",
    text: edit("queues: 1", "queues: 9"),
    field: "domains[1].vifs[0].queues",
    at: "queues: 9",
    col: "9",
    problem: /9 is out of range/,
  },
  {
    what: "queues not an integer",
    text: edit("queues: 1", "queues: 1.5"),
    field: "domains[1].vifs[0].queues",
    at: "queues: 1.5",
    problem: /1.5 is a number/,
  },
  {
    what: "ring order 5",
    text: edit("ring-page-order: 0", "ring-page-order: 5"),
    field: "domains[1].vifs[0].ring-page-order",
    at: "ring-page-order: 5",
    problem: /out of range/,
  },
  {
    what: "trusted not a boolean",
    text: edit("trusted: true", "trusted: 0"),
    field: "domains[1].vifs[0].trusted",
    at: "trusted: 0",
    problem: /^0 is an integer$/,
  },
  {
    what: "a MAC with 5 octets",
    text: edit('"00:16:3e:00:01:00"', '"00:16:3e:00:01"'),
    field: "domains[1].vifs[0].mac",
    at: '"00:16:3e:00:01"',
    problem: /is not valid/,
  },
  {
    what: "a multicast MAC",
    text: edit('"00:16:3e:00:02:00"', '"01:00:5e:00:00:01"'),
    field: "domains[2].vifs[0].mac",
    at: "01:00:5e",
    problem: /multicast/,
  },
  {
    what: "a duplicate MAC",
    text: edit('"00:16:3e:00:02:00"', '"00:16:3E:00:01:00"'),
    field: "domains[2].vifs[0].mac",
    at: "00:16:3E:00:01:00",
    problem: /already used by domains\[1\]\.vifs\[0\]/,
  },
  {
    what: "an IP without a prefix",
    text: edit("10.0.0.2/24", "10.0.0.2"),
    field: "domains[2].vifs[0].ip",
    at: "ip: 10.0.0.2",
    problem: /is not valid/,
  },
  {
    what: "an octet above 255",
    text: edit("10.0.0.2/24", "10.0.0.256/24"),
    field: "domains[2].vifs[0].ip",
    at: "10.0.0.256",
    problem: /is not valid/,
  },
  {
    what: "another subnet on the same bridge",
    text: edit("10.0.0.2/24", "10.0.1.2/24"),
    field: "domains[2].vifs[0].ip",
    at: "10.0.1.2",
    problem: /not in vale0's subnet 10\.0\.0\.0\/24/,
  },
  {
    what: "the same IP twice on a bridge",
    text: edit("10.0.0.2/24", "10.0.0.1/24"),
    field: "domains[2].vifs[0].ip",
    at: "ip: 10.0.0.1/24",
    problem: /already used by domains\[1\]\.vifs\[0\]/,
  },
  {
    what: "the network address",
    text: edit("10.0.0.2/24", "10.0.0.0/24"),
    field: "domains[2].vifs[0].ip",
    at: "10.0.0.0/24",
    problem: /network address/,
  },
  {
    what: "a bridge that does not exist",
    text: edit("        bridge: vale0\n", "        bridge: vale7\n"),
    field: "domains[2].vifs[0].bridge",
    at: "vale7",
    problem: /no bridge named "vale7"/,
  },
  {
    what: "no bridges at all (the default bridge is missing too)",
    text: `domains:\n  - name: Domain-0\n  - name: g\n    vifs:\n      - {}\n`,
    field: "domains[1].vifs[0]",
    at: "- {}",
    problem: /^bridge: no bridge named "vale0"/,
  },
  {
    what: "an unknown key, pointed at the key",
    text: edit("  - name: guest2\n", "  - name: guest2\n    colour: red\n"),
    field: "domains[2].colour",
    at: "colour: red",
    problem: /unknown key "colour"/,
    col: "colour",
  },
  {
    what: "an unknown key holding a mapping, pointed at the key's line",
    text: edit("  - name: guest2\n", "  - name: guest2\n    colour:\n      shade: red\n"),
    field: "domains[2].colour",
    at: "colour:",
    problem: /unknown key "colour"/,
    col: "colour",
  },
  {
    what: "an unknown feature",
    text: edit("rx-notify: true", "rx-notify: true\n          tso: true"),
    field: "domains[1].vifs[0].features.tso",
    at: "tso: true",
    problem: /unknown key "tso"/,
  },
  {
    what: "a feature that is not a boolean",
    text: edit("sg: true", "sg: yes"),
    field: "domains[1].vifs[0].features.sg",
    at: "sg: yes",
    problem: /"yes" is a string/,
  },
  {
    what: "a domain without a name",
    text: edit("  - name: guest2\n", "  - memory: 16M\n"),
    field: "domains[2]",
    at: "memory: 16M",
    problem: /missing key "name"/,
  },
  {
    what: "two domains with one name",
    text: edit("name: guest2", "name: guest1"),
    field: "domains[2].name",
    at: "name: guest1",
    problem: /already the name of domains\[1\]/,
  },
  {
    what: "Domain-0 not first",
    text: edit("name: Domain-0", "name: dom0"),
    field: "domains[0].name",
    at: "name: dom0",
    problem: /the first domain is "dom0"/,
  },
  {
    what: "vifs on Domain-0",
    text: "domains:\n  - name: Domain-0\n    vifs: [{}]\nbridges: { vale0: {} }\n",
    field: "domains[0].vifs",
    at: "vifs: [{}]",
    problem: /Domain-0 has vifs/,
  },
  {
    what: "memory with a bad suffix",
    text: edit("memory: 64M", "memory: 64Q"),
    field: "domains[0].memory",
    at: "memory: 64Q",
    problem: /"64Q" is not valid/,
  },
  {
    what: "memory above 4G",
    text: edit("memory: 64M", "memory: 5G"),
    field: "domains[0].memory",
    at: "memory: 5G",
    problem: /too much/,
  },
  {
    what: "a bridge name without vale",
    text: edit("  vale0: {}", "  vale0: {}\n  br0: {}"),
    field: "bridges.br0",
    at: "br0: {}",
    problem: /"br0" is not a valid name/,
    col: "br0",
  },
  {
    what: "a VXLAN uplink with a bad remote",
    text: edit(
      "  vale0: {}",
      "  vale0: { uplinks: [{ vxlan: { local: 0.0.0.0, vni: 1,\n    remotes: [192.0.9] } }] }",
    ),
    field: "bridges.vale0.uplinks[0].vxlan.remotes[0]",
    at: "192.0.9",
    problem: /"192.0.9" is not valid/,
  },
  {
    what: "a VNI above 24 bits",
    text: edit(
      "  vale0: {}",
      "  vale0:\n    uplinks:\n      - vxlan: { local: 192.0.2.1, vni: 16777216, remotes: [] }",
    ),
    field: "bridges.vale0.uplinks[0].vxlan.vni",
    at: "16777216",
    problem: /out of range/,
  },
  {
    what: "capture without a file",
    text: edit("  vale0: {}", "  vale0:\n    capture: {}"),
    field: "bridges.vale0.capture",
    at: "capture: {}",
    problem: /missing key "file"/,
  },
  {
    what: "no domains",
    text: "bridges: {}\n",
    field: "(top level)",
    at: "bridges",
    problem: /missing key "domains"/,
  },
  {
    what: "domains not a list",
    text: "domains:\n  Domain-0: {}\n",
    field: "domains",
    at: "Domain-0: {}",
    problem: /^a mapping$/,
  },
  { what: "an empty file", text: "", field: "(top level)", at: "", problem: /no value/ },
  {
    what: "a duplicate key",
    text: edit("    memory: 32M # the default\n", "    memory: 32M\n    memory: 16M\n"),
    field: "YAML",
    at: "memory: 16M",
    problem: /unique/,
  },
  {
    what: "broken YAML",
    text: edit("  vale0: {}", "  vale0: {} }"),
    field: "YAML",
    at: "vale0: {} }",
    problem: /./,
  },
];

for (const b of BAD) {
  test(`a broken host file is reported at its field and line: ${b.what}`, () => {
    const r = parseHostConfig(b.text, "bad.yaml");
    assert.equal(r.ok, false, "accepted");
    if (r.ok) return;
    const i = r.issues[0];
    const line = b.at === "" ? 1 : lineOf(b.text, b.at);
    assert.deepEqual([i.field, i.line], [b.field, line], formatIssue(i));
    assert.match(i.problem, b.problem, formatIssue(i));
    assert.ok(formatIssue(i).startsWith(`bad.yaml:${line}:${i.col}: ${b.field}: `));
    if (b.col !== undefined)
      assert.equal(i.col, b.text.split("\n")[line - 1].indexOf(b.col) + 1, formatIssue(i));
    if (i.field !== "YAML" && b.at !== "") {
      // The column points into the named line's text, at the key or the value.
      const text = b.text.split("\n")[line - 1];
      assert.ok(i.col >= 1 && i.col <= text.length, `col ${i.col} in "${text}"`);
    }
  });
}

test("every issue is listed, in file order, not only the first", () => {
  let text = edit("queues: 1", "queues: 0");
  text = text.replace("sg: true", "sg: 3").replace("name: guest2", "name: guest2\n    extra: 1");
  const r = parseHostConfig(text, "x.yaml");
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.issues.map((i) => i.field),
    ["domains[1].vifs[0].queues", "domains[1].vifs[0].features.sg", "domains[2].extra"],
  );
  const lines = r.issues.map((i) => i.line);
  assert.deepEqual(
    lines,
    [...lines].sort((a, b) => a - b),
  );
});

test("loadHostConfig: a CONFIG error naming the first issue; an unreadable file in one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-config-"));
  try {
    const good = join(dir, "good.yaml");
    writeFileSync(good, DEFAULT_HOST_YAML);
    assert.deepEqual(loadHostConfig(good), defaultHostConfig());
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, edit("queues: 1", "queues: 0").replace("sg: true", "sg: 3"));
    assert.throws(
      () => loadHostConfig(bad),
      (e: unknown) =>
        e instanceof PvnetError &&
        e.code === "CONFIG" &&
        e.message.startsWith(`${bad}:${lineOf(DEFAULT_HOST_YAML, "queues: 1")}:`) &&
        e.message.includes("domains[1].vifs[0].queues") &&
        e.message.includes("and 1 more"),
    );
    assert.throws(
      () => loadHostConfig(join(dir, "missing.yaml")),
      (e: unknown) =>
        e instanceof PvnetError &&
        e.code === "CONFIG" &&
        /missing\.yaml: no such file \(ENOENT\)/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("aliases cannot blow a small file up (billion laughs)", () => {
  const text = [
    "a: &a [x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "domains: [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
  ].join("\n");
  const r = parseHostConfig(text, "laughs.yaml");
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.issues[0].problem, /alias/i);
});

test("staging-grants: defaults to true, false is kept per vif, anything else names the field", () => {
  assert.equal(ok(DEFAULT_HOST_YAML).domains[1].vifs[0].stagingGrants, true);
  const c = ok(DEFAULT_HOST_YAML.replace("trusted: true", "trusted: true\n        staging-grants: false"));
  assert.equal(c.domains[1].vifs[0].stagingGrants, false);
  const r = parseHostConfig(
    DEFAULT_HOST_YAML.replace("trusted: true", "trusted: true\n        staging-grants: 3"),
    "h.yaml",
  );
  assert.equal(r.ok, false);
  assert.equal(r.ok ? "" : r.issues[0]!.field, "domains[1].vifs[0].staging-grants");
});

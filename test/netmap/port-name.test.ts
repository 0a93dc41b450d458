import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parsePortName } from "../../src/netmap/port-name.js";
import { isParseError } from "../../src/wire/layout.js";

const ok = (spec: string) => {
  const r = parsePortName(spec);
  if (isParseError(r)) assert.fail(r.error);
  return r;
};

test("netmap and VALE names with every mode", () => {
  assert.deepEqual(
    [ok("netmap:eth0").mode, ok("netmap:eth0^").mode, ok("netmap:eth0*").mode, ok("netmap:eth0-2").mode],
    ["ALL_NIC", "SW", "NIC_SW", "ONE_NIC"],
  );
  assert.equal(ok("netmap:eth0-2").ringId, 2);
  assert.deepEqual([ok("netmap:eth0^1").mode, ok("netmap:eth0^1").ringId], ["ONE_SW", 1]);
  const v = ok("vale0:p1");
  assert.deepEqual([v.isVale, v.subsystem, v.port, v.mode], [true, "vale0", "p1", "ALL_NIC"]);
  assert.equal(ok("vale:x").subsystem, "vale");
  assert.equal(ok("netmap:eth0").isVale, false);
});

test("pipe ends, flags, memory ids and options", () => {
  assert.deepEqual(ok("vale0:p1{3").pipe, { role: "master", id: "3" });
  assert.deepEqual(ok("vale2:x}ab").pipe, { role: "slave", id: "ab" });
  assert.deepEqual(ok("netmap:pipe0{1-0").pipe, { role: "master", id: "1" });
  const f = ok("netmap:eth0-3/zR").flags;
  assert.deepEqual([f.zcopyMon, f.rxOnly, f.txOnly], [true, true, false]);
  assert.equal(ok("netmap:eth0/T").flags.txOnly, true);
  assert.equal(ok("netmap:eth0@2").memId, 2);
  assert.equal(ok("vale0:0@share=netmap:vi0").share, "netmap:vi0");
  assert.deepEqual(ok("vale0:a@conf:rings=4,slots=2048,host-rings=1").conf, {
    txRings: 4,
    rxRings: 4,
    txSlots: 2048,
    rxSlots: 2048,
    hostTxRings: 1,
    hostRxRings: 1,
  });
});

test("bad names say what was expected", () => {
  const cases: [string, RegExp][] = [
    ["eth0", /expected netmap:IFNAME or valeN:PORT/],
    ["tap:eth0", /"netmap:" or "vale<ID>:"/],
    ["netmap:", /a port name/],
    ["netmap:eth0-", /a ring number after -/],
    ["netmap:eth0-5000", /below 4095/],
    ["vale0:p{", /a pipe id/],
    ["vale0:p{1^", /pipes take no host-ring mode/],
    ["netmap:eth0/q", /flags from x z t r R T/],
    ["netmap:eth0/RT", /at most one of R and T/],
    ["netmap:eth0@0", /memory region id above 0/],
    ["vale0:a@conf:rings=0", /a count 1\.\.65536/],
    ["vale0:a@conf:wings=2", /a conf key/],
    ["vale0:a@bogus", /an option/],
    ["netmap:eth0#", /end of name/],
    ["netmap:abcdefghijklmnopq", /shorter than 16/],
  ];
  for (const [spec, re] of cases) {
    const r = parsePortName(spec);
    assert.ok(isParseError(r), `${spec} should not parse`);
    assert.match(r.error, re, spec);
  }
});

test("no string makes the parser throw", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("", "netmap:", "vale0:", "vale:"),
      (s, prefix) => {
        const r = parsePortName(prefix + s);
        assert.ok(isParseError(r) || typeof r.port === "string");
      },
    ),
    { numRuns: 1000 },
  );
});

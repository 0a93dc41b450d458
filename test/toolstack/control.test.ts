/**
 * The control protocol's checks and the xl-style tables, without a host: every malformed
 * request is a message (never a throw), and the columns line up as xl's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fmtRtt, summarize, summaryLines } from "../../src/cli/ping.js";
import { listLines, nicLines } from "../../src/cli/xl.js";
import { parseCidr, parseRequest, stateLetters } from "../../src/toolstack/control.js";

test("parseRequest: the four ops, and a message naming what is wrong for anything else", () => {
  assert.deepEqual(parseRequest('{"op":"list"}'), { op: "list" });
  assert.deepEqual(parseRequest('{"op":"backend-restart"}'), { op: "backend-restart" });
  assert.deepEqual(parseRequest('{"op":"destroy","domain":"guest2"}'), { op: "destroy", domain: "guest2" });
  assert.deepEqual(parseRequest('{"op":"network-list","domain":"1"}'), { op: "network-list", domain: "1" });
  const bad: [string, RegExp][] = [
    ["", /not JSON/],
    ["{", /not JSON/],
    ["null", /not a JSON object/],
    ["[]", /not a JSON object/],
    ['"list"', /not a JSON object/],
    ["{}", /unknown op undefined/],
    ['{"op":"reboot"}', /unknown op "reboot"/],
    ['{"op":1}', /unknown op 1/],
    ['{"op":"list","domain":"x"}', /list: unknown field "domain"/],
    ['{"op":"destroy"}', /destroy: "domain" must be/],
    ['{"op":"destroy","domain":""}', /destroy: "domain" must be/],
    ['{"op":"network-list","domain":7}', /network-list: "domain" must be/],
    [`{"op":"destroy","domain":"${"x".repeat(300)}"}`, /destroy: "domain" must be/],
    ['{"op":"destroy","domain":"g","force":true}', /unknown field "force"/],
    ['{"__proto__":{"op":"list"}}', /unknown op undefined/],
  ];
  for (const [line, re] of bad) {
    const r = parseRequest(line);
    assert.equal(typeof r, "string", line);
    assert.match(r as string, /^bad request: /, line);
    assert.match(r as string, re, line);
  }
});

test("parseRequest: ping, top and create, with their defaults and their checks", () => {
  assert.deepEqual(parseRequest('{"op":"top"}'), { op: "top" });
  assert.deepEqual(parseRequest('{"op":"ping","domain":"guest1","ip":"10.0.0.2"}'), {
    op: "ping",
    domain: "guest1",
    ip: "10.0.0.2",
    timeoutMs: 1000,
  });
  assert.deepEqual(parseRequest('{"op":"create","name":"g3","ip":"10.0.0.3/24"}'), {
    op: "create",
    name: "g3",
    ip: "10.0.0.3/24",
    bridge: "vale0",
  });
  const bad: [string, RegExp][] = [
    ['{"op":"top","n":1}', /top: unknown field "n"/],
    ['{"op":"ping","domain":"g","ip":"10.0.0"}', /ping: "ip" must be/],
    ['{"op":"ping","domain":"g","ip":"10.0.0.1","timeoutMs":0}', /ping: "timeoutMs" must be/],
    ['{"op":"ping","ip":"10.0.0.1"}', /ping: "domain" must be/],
    ['{"op":"create"}', /create: "name" must be/],
    ['{"op":"create","name":"a b"}', /create: "name" must be/],
    ['{"op":"create","name":"g","ip":"10.0.0.1"}', /create: "ip" must be/],
    ['{"op":"create","name":"g","ip":"10.0.0.1/33"}', /create: "ip" must be/],
    ['{"op":"create","name":"g","bridge":""}', /create: "bridge" must be/],
  ];
  for (const [line, re] of bad) {
    const r = parseRequest(line);
    assert.equal(typeof r, "string", line);
    assert.match(r as string, re, line);
  }
  assert.deepEqual(parseCidr("10.0.0.3/24"), {
    address: "10.0.0.3",
    prefix: 24,
    value: 0x0a000003,
    network: "10.0.0.0",
  });
  assert.equal(parseCidr("10.0.0.3/0"), null);
});

test("ping's lines: iputils' time digits and statistics", () => {
  assert.deepEqual([0.3141, 1.234, 12.34, 123.4].map(fmtRtt), ["0.314", "1.23", "12.3", "123"]);
  const s = summarize(
    [
      { seq: 1, ok: true, rttMs: 1 },
      { seq: 2, ok: false, reason: "timeout" },
      { seq: 3, ok: true, rttMs: 3 },
    ],
    2003.4,
  );
  assert.deepEqual(summaryLines("10.0.0.2", s), [
    "--- 10.0.0.2 ping statistics ---",
    "3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms",
    "rtt min/avg/max/mdev = 1.000/2.000/3.000/1.000 ms",
  ]);
  const none = summarize([{ seq: 1, ok: false, reason: "ENETDOWN" }], 0);
  assert.deepEqual(summaryLines("10.0.0.9", none).slice(1), [
    "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms",
  ]);
});

test("stateLetters: xl's six letters for each pvnet state", () => {
  assert.equal(stateLetters({ state: "running", privileged: true }), "r-----");
  assert.equal(stateLetters({ state: "running", privileged: false }), "-b----");
  assert.equal(stateLetters({ state: "starting", privileged: false }), "------");
  assert.equal(stateLetters({ state: "failed", privileged: false }), "----c-");
  assert.equal(stateLetters({ state: "stopped", privileged: false }), "---s--");
  assert.equal(stateLetters({ state: "destroyed", privileged: false }), "-----d");
});

test("listLines and nicLines: xl's columns", () => {
  assert.deepEqual(
    listLines([
      { name: "Domain-0", id: 0, mem: 64, vcpus: 1, state: "r-----", status: "running", time: 12.34 },
    ]),
    [
      "Name                                        ID   Mem VCPUs\tState\tTime(s)",
      "Domain-0                                     0    64     1     r-----      12.3",
    ],
  );
  assert.deepEqual(
    nicLines([
      {
        idx: 0,
        backendId: 0,
        mac: "00:16:3e:00:01:00",
        handle: 0,
        state: 4,
        stateName: "Connected",
        evtch: 2,
        txRingRef: 8,
        rxRingRef: 9,
        backendPath: "/local/domain/0/backend/vif/1/0",
      },
    ]),
    [
      "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path",
      "0   0  00:16:3e:00:01:00 0      4     2          8/9     /local/domain/0/backend/vif/1/0",
    ],
  );
});

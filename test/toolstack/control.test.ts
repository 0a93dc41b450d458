/**
 * The control protocol's checks and the xl-style tables, without a host: every malformed
 * request is a message (never a throw), and the columns line up as xl's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { listLines, nicLines } from "../../src/cli/xl.js";
import { parseRequest, stateLetters } from "../../src/toolstack/control.js";

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

/**
 * The control socket's device and UDP requests and the reports behind them are untrusted
 * input: whatever JSON arrives, the parsers answer a request or a message, never throw,
 * and what they accept is exactly what a well-formed request holds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseOpsRequest } from "../../src/toolstack/control-ops.js";
import { checkOpsReport } from "../../src/toolstack/ops-proto.js";

const ops = fc.constantFrom(
  "network-attach",
  "network-detach",
  "udp-listen",
  "udp-echo",
  "create-file",
  "list",
  7,
  null,
);
const anyRequest = fc.dictionary(
  fc.constantFrom(
    "op",
    "domain",
    "mac",
    "bridge",
    "ip",
    "script",
    "device",
    "port",
    "size",
    "timeoutMs",
    "file",
    "text",
    "x",
  ),
  fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), ops),
);

test("parseOpsRequest: any object gives a request, a one-line message, or null (not ours); never throws", () => {
  fc.assert(
    fc.property(anyRequest, (o) => {
      const r = parseOpsRequest(o);
      if (r === null)
        assert.ok(
          typeof o.op !== "string" ||
            !["network-attach", "network-detach", "udp-listen", "udp-echo", "create-file"].includes(o.op),
        );
      else if (typeof r === "string") assert.match(r, /^bad request: [a-z-]+: [^\n]+$/);
      else {
        assert.equal(r.op, o.op);
        // Nothing the request did not carry, and only the fields its op takes.
        for (const [k, v] of Object.entries(r)) if (k !== "op" && k in o) assert.equal(v, o[k]);
        if (r.op === "udp-echo") {
          assert.ok(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535);
          assert.ok(r.size >= 0 && r.size <= 1472 && r.timeoutMs >= 1 && r.timeoutMs <= 60_000);
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("parseOpsRequest: well-formed requests pass with their defaults; a stray field is named", () => {
  assert.deepEqual(parseOpsRequest({ op: "udp-echo", domain: "guest1", ip: "10.0.0.2", port: 7 }), {
    op: "udp-echo",
    domain: "guest1",
    ip: "10.0.0.2",
    port: 7,
    size: 56,
    timeoutMs: 1000,
  });
  assert.deepEqual(parseOpsRequest({ op: "network-attach", domain: "3", ip: "10.0.0.9" }), {
    op: "network-attach",
    domain: "3",
    ip: "10.0.0.9",
  });
  assert.equal(
    parseOpsRequest({ op: "network-detach", domain: "g", device: "0", colour: 1 }),
    'bad request: network-detach: unknown field "colour"',
  );
  assert.equal(
    parseOpsRequest({ op: "udp-listen", domain: "g", port: 0 }),
    'bad request: udp-listen: "port" must be an integer 1..65535',
  );
});

test("checkOpsReport: any value gives a well-formed report or null; never throws", () => {
  const field = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.object(),
  );
  const report = fc.record(
    {
      t: fc.constantFrom("vif-attached", "vif-detached", "udp-result", "hotplug-run", "ping", 3),
      id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
      error: field,
      closed: field,
      ok: field,
      from: field,
      rttMs: field,
      bytes: field,
      reason: field,
      script: field,
      action: fc.oneof(fc.constantFrom("online", "offline"), field),
      env: fc.oneof(fc.dictionary(fc.string(), field), field),
    },
    { requiredKeys: ["t"] },
  );
  fc.assert(
    fc.property(fc.oneof(report, field), (data) => {
      const r = checkOpsReport(data);
      if (r === null) return;
      assert.ok(Number.isSafeInteger(r.id) && r.id >= 0);
      if (r.t === "hotplug-run") {
        assert.ok(r.action === "online" || r.action === "offline");
        for (const [k, v] of Object.entries(r.env)) {
          assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/);
          assert.equal(typeof v, "string");
        }
      }
      if (r.t === "udp-result") assert.ok(r.rttMs === undefined || Number.isFinite(r.rttMs));
    }),
    { numRuns: 2000 },
  );
});

/**
 * Garbage in through XsConnection.handle: any (type, tx_id, payload) must produce exactly
 * one well-formed reply (its own type or XS_ERROR with an xs_wire error name), never a
 * throw; afterwards the same daemon still serves good requests.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  joinXsStrings,
  splitXsStrings,
  XENSTORE_PAYLOAD_MAX,
  XS_ERROR,
  XS_WATCH_EVENT,
  XSD_ERRORS,
} from "../../src/wire/xen/xs-wire.js";
import { newDaemon, TestClient } from "./harness.js";

const ERRORS = new Set(XSD_ERRORS.map((e) => e.errstring));

const token = fc.oneof(
  fc.constantFrom(
    "",
    "/",
    "/local/domain/1",
    "a",
    "@introduceDomain",
    "@releaseDomain",
    "T",
    "F",
    "0",
    "1",
    "7",
  ),
  fc.constantFrom("r1", "n0", "b2", "w0", "print", "help", "4096", "/a//b", "/a/", "..", "\u00e9"),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^\/[a-c/]{0,12}$/),
);
const payload = fc.oneof(
  fc.array(token, { maxLength: 5 }).map((t) => joinXsStrings(t.map((s) => s.replaceAll("\0", "")))),
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(token, fc.uint8Array({ maxLength: 32 })).map(([p, v]) => {
    const a = new TextEncoder().encode(p.replaceAll("\0", ""));
    const out = new Uint8Array(a.length + 1 + v.length);
    out.set(a);
    out.set(v, a.length + 1);
    return out;
  }),
);
const req = fc.record({
  who: fc.constantFrom(0, 1, 2),
  type: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 22 }) },
    { weight: 1, arbitrary: fc.integer({ min: 23, max: 27 }) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(0xffff, 0xffffffff), fc.nat()) },
  ),
  txId: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.constantFrom(1, 2, 3), fc.nat()),
  payload,
});

test("random requests never throw and always get one well-formed reply", () => {
  const seen = { ok: 0, errors: 0 };
  fc.assert(
    fc.property(fc.array(req, { minLength: 1, maxLength: 40, size: "max" }), (reqs) => {
      const { d } = newDaemon({ quotas: { nodes: 50 } });
      d.introduceDomain(1);
      d.introduceDomain(2);
      const clients = [new TestClient(d, 0), new TestClient(d, 1), new TestClient(d, 2)];
      let reqId = 1;
      for (const r of reqs) {
        let c = clients[r.who];
        if (c.sink.closedWith !== undefined) {
          d.introduceDomain(r.who);
          c = clients[r.who] = new TestClient(d, r.who);
        }
        const before = c.sink.msgs.length;
        c.conn.handle(r.type, reqId, r.txId, r.payload);
        const replies = c.sink.msgs.slice(before).filter((m) => m.type !== XS_WATCH_EVENT);
        if (c.sink.closedWith !== undefined && replies.length === 0) continue;
        assert.equal(replies.length, 1);
        const m = replies[0];
        assert.equal(m.reqId, reqId);
        assert.equal(m.txId, r.txId >>> 0);
        assert.ok(m.payload.length <= XENSTORE_PAYLOAD_MAX);
        if (m.type === XS_ERROR) {
          seen.errors++;
          const s = splitXsStrings(m.payload);
          assert.ok(Array.isArray(s) && s.length === 1 && ERRORS.has(s[0]), `bad error payload ${s}`);
        } else {
          seen.ok++;
          assert.equal(m.type, r.type >>> 0);
        }
        reqId++;
      }
      const c = new TestClient(d, 0);
      assert.equal(c.write("/after/fuzz", "ok"), "OK");
      assert.equal(c.read("/after/fuzz"), "=ok");
    }),
    { numRuns: 300 },
  );
  assert.ok(seen.ok > 200, `too few accepted requests: ${JSON.stringify(seen)}`);
});

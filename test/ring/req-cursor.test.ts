import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RING_ERR_REQ_PROD } from "../../src/ring/errors.js";
import { ReqCursor } from "../../src/ring/req-cursor.js";

/**
 * An honest frontend and a backend drive the backend's consumer index through more than 2^32
 * requests: the ring goes round millions of times, so every index wraps past 0 and past the
 * starting point again. The frontend publishes only what the responses pushed so far leave
 * room for; the model says exactly how many requests each take() must return: all it may
 * (up to `max`) of what the frontend had published when req_prod was last read, and it is
 * read again only once those are consumed.
 */
test("the backend's consumer index stays exact through more than 2^32 requests from any start", () => {
  fc.assert(
    fc.property(
      // Ring sizes of orders 3 and 4: each run goes round the ring a million times or more.
      fc.constantFrom(2048, 4096),
      fc.oneof(fc.integer({ min: 2 ** 32 - 600, max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 })),
      fc.integer({ min: 1, max: 0x7fffffff }),
      fc.integer({ min: 1, max: 700 }),
      (nrEnts, start, seed, extra) => {
        const hdr = new Uint32Array(1);
        hdr[0] = start;
        const cur = new ReqCursor(hdr, 0, nrEnts, start);
        let s = seed;
        const rnd = (): number => {
          s ^= s << 13;
          s ^= s >>> 17;
          s ^= s << 5;
          return s >>> 0;
        };
        // Counts since `start`, as plain numbers (exact far beyond 2^32): the model.
        let produced = 0;
        let consumed = 0;
        let responded = 0;
        let pushed = 0;
        let seen = 0;
        const total = 2 ** 32 + extra;
        while (consumed < total) {
          const r = rnd();
          // Frontend: fill the room the pushed responses leave, mostly all of it.
          const room = nrEnts - (produced - pushed);
          const p = r & 7 ? room : rnd() % (room + 1);
          produced += p;
          hdr[0] = (start + produced) >>> 0;
          // Backend: take a batch, sometimes two small ones (the second uses what it saw).
          const max = r & 0x30 ? nrEnts : 1 + (rnd() % nrEnts);
          const rspPvt = (start + responded) >>> 0;
          for (let k = r & 0x40 ? 2 : 1; k > 0; k--) {
            if (seen === consumed) seen = produced;
            const want = Math.min(max, seen - consumed);
            const got = cur.take(max, rspPvt);
            if (got !== want)
              assert.fail(`take(${max}) = ${got} after ${consumed} of ${produced}, expected ${want}`);
            consumed += got;
            if (cur.cons !== (start + consumed) >>> 0) assert.fail(`req_cons drifted after ${consumed}`);
          }
          // Responses: answer some or all of what was consumed, push some or all of them.
          responded += r & 0x180 ? consumed - responded : rnd() % (consumed - responded + 1);
          pushed += r & 0x600 ? responded - pushed : rnd() % (responded - pushed + 1);
          const left = cur.unconsumed((start + responded) >>> 0);
          if (left !== produced - consumed)
            assert.fail(`${left} unconsumed, expected ${produced - consumed}`);
          seen = produced;
        }
        assert.ok(consumed > 2 ** 32);
        assert.ok(pushed <= responded && responded <= consumed && consumed <= produced);
      },
    ),
    { numRuns: 3 },
  );
});

test("req_prod ahead of the ring's room, or moved back behind req_cons, is refused and not kept", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 0, max: 64 }),
      fc.nat({ max: 2 ** 32 - 1 }),
      (start, consumed, answered, lie) => {
        const n = 64;
        const ans = Math.min(answered, consumed);
        const hdr = Uint32Array.of((start + consumed) >>> 0);
        const cur = new ReqCursor(hdr, 0, n, start);
        assert.equal(cur.take(consumed, start), consumed);
        const rsp = (start + ans) >>> 0;
        hdr[0] = lie;
        const claimed = (lie - rsp) >>> 0;
        const ok = claimed <= n && claimed >= consumed - ans;
        const want = ok ? claimed - (consumed - ans) : RING_ERR_REQ_PROD;
        assert.equal(cur.unconsumed(rsp), want);
        assert.equal(cur.take(1000, rsp), want);
        // A refused value is not remembered: an honest req_prod afterwards is served exactly.
        hdr[0] = (rsp + n) >>> 0;
        if (!ok) assert.equal(cur.take(1000, rsp), n - (consumed - ans));
      },
    ),
    { numRuns: 2000 },
  );
});

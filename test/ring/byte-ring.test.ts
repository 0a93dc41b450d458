import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  BYTE_RING_BAD_INDEX,
  type ByteRingPlace,
  ByteRingReader,
  ByteRingWriter,
} from "../../src/ring/byte-ring.js";
import { sharedMem } from "../../src/wire/mem.js";
import { XENSTORE_RING_SIZE, XS_RING_REQ_OFF } from "../../src/wire/xen/xs-ring.js";

/** The request ring of a xenstore page: buffer @0, req_cons @2048, req_prod @2052. */
function place(start = 0): ByteRingPlace {
  const m = sharedMem(4096);
  m.u32[2048 >>> 2] = start;
  m.u32[2052 >>> 2] = start;
  return { m, buf: XS_RING_REQ_OFF, size: XENSTORE_RING_SIZE, consAt: 2048, prodAt: 2052 };
}

test("bytes cross the ring in order through wrap-around, from indices just below 2^32", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2 ** 32 - 3000, max: 2 ** 32 - 1 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 1500 })), {
        maxLength: 30,
      }),
      (start, steps) => {
        const p = place(start);
        const w = new ByteRingWriter(p);
        const r = new ByteRingReader(p);
        let next = 0;
        let expect = 0;
        const out = new Uint8Array(2048);
        for (const [wn, rn] of steps) {
          const src = Uint8Array.from({ length: wn }, (_, i) => (next + i) & 0xff);
          const put = w.write(src, 0, wn);
          assert.equal(put, Math.min(wn, 1024 - (next - expect)));
          next += put;
          const got = r.read(out, 0, rn);
          assert.equal(got, Math.min(rn, next - expect));
          for (let i = 0; i < got; i++) assert.equal(out[i], (expect + i) & 0xff);
          expect += got;
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("an impossible peer index is reported by both sides, never followed", () => {
  const p = place();
  const r = new ByteRingReader(p);
  const w = new ByteRingWriter(p);
  p.m.u32[2052 >>> 2] = 1025; // the guest claims 1025 bytes in a 1024-byte ring
  assert.equal(r.available(), BYTE_RING_BAD_INDEX);
  assert.equal(r.read(new Uint8Array(10), 0, 10), BYTE_RING_BAD_INDEX);
  p.m.u32[2052 >>> 2] = 0;
  p.m.u32[2048 >>> 2] = 5; // the consumer claims to be ahead of what was produced
  assert.equal(w.space(), BYTE_RING_BAD_INDEX);
  assert.equal(w.write(new Uint8Array(4), 0, 4), BYTE_RING_BAD_INDEX);
});

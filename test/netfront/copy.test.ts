/**
 * netfront's copies (copy.ts) pick a method per size, buffer and alignment (word loop,
 * copyWithin, set from the caller's view, byte loop); whichever runs, the bytes that land
 * are exactly the source's, nothing around them changes, and no view is made per frame.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { copyMem, FrameSource } from "../../src/netfront/copy.js";
import { type Mem, privateMem, sharedMem } from "../../src/wire/mem.js";
import { countGcs } from "../wire/net/fixtures.js";

const SIZE = 16_384;

function patterned(m: Mem, seed: number): Mem {
  for (let i = 0; i < m.byteLength; i++) m.u8[i] = (i * 31 + seed) & 255;
  return m;
}

test("property: FrameSource.copyOut lands exactly the frame's bytes, from one buffer, many, or the destination's own", () => {
  const dst = sharedMem(SIZE);
  const bufs = [patterned(privateMem(SIZE), 1), patterned(privateMem(SIZE), 2), dst];
  const src = new FrameSource();
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          buf: fc.integer({ min: 0, max: 2 }),
          viewOff: fc.integer({ min: 0, max: 4096 }),
          at: fc.integer({ min: 0, max: 64 }),
          len: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 100, max: 3000 })),
          exact: fc.boolean(),
          dstOff: fc.integer({ min: 8192, max: 12_000 }),
        }),
        { minLength: 1, maxLength: 20 },
      ),
      (copies) => {
        for (const c of copies) {
          const b = bufs[c.buf];
          // The destination's own buffer: source below 8192, destination above, disjoint.
          const viewOff = c.buf === 2 ? c.viewOff % 2048 : c.viewOff;
          const viewLen = c.exact ? c.at + c.len : c.at + c.len + 17;
          const frame = b.u8.subarray(viewOff, viewOff + viewLen);
          const want = frame.slice(c.at, c.at + c.len);
          const before = dst.u8.slice(c.dstOff - 8, c.dstOff + c.len + 8);
          src.copyOut(frame, c.at, dst, c.dstOff, c.len);
          assert.deepEqual(dst.u8.subarray(c.dstOff, c.dstOff + c.len), want);
          assert.deepEqual(dst.u8.subarray(c.dstOff - 8, c.dstOff), before.subarray(0, 8), "nothing before");
          assert.deepEqual(
            dst.u8.subarray(c.dstOff + c.len, c.dstOff + c.len + 8),
            before.subarray(8 + c.len),
            "nothing after",
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("property: copyMem copies exactly, between buffers and inside one", () => {
  const a = patterned(sharedMem(SIZE), 3);
  const b = patterned(privateMem(SIZE), 4);
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 0, max: 4096 }),
      fc.integer({ min: 8192, max: 12_000 }),
      fc.integer({ min: 0, max: 4000 }),
      (same, srcOff, dstOff, len) => {
        const src = same ? a : b;
        const want = src.u8.slice(srcOff, srcOff + len);
        const after = a.u8.slice(dstOff + len, dstOff + len + 8);
        copyMem(a, dstOff, src, srcOff, len);
        assert.deepEqual(a.u8.subarray(dstOff, dstOff + len), want);
        assert.deepEqual(a.u8.subarray(dstOff + len, dstOff + len + 8), after);
      },
    ),
    { numRuns: 300 },
  );
});

test("copies from the stack's slots, many flows' frames and whole views make no garbage", async () => {
  const dst = sharedMem(1 << 16);
  const slots = privateMem(4 * 1520);
  const slot = slots.u8.subarray(1520, 3040);
  const flows = Array.from({ length: 8 }, () => new Uint8Array(1500));
  const src = new FrameSource();
  const gcs = await countGcs((i) => {
    const to = (i & 7) * 4096;
    src.copyOut(slot, 0, dst, to, i & 1 ? 1500 : 64);
    src.copyOut(flows[i & 7], 0, dst, to + 2048, i & 2 ? 1500 : 64);
  }, 200_000);
  assert.equal(gcs, 0);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { copyBytes } from "../../src/wire/copy.js";
import { privateMem, sharedMem } from "../../src/wire/mem.js";
import { countGcs } from "./net/fixtures.js";

test("copyBytes is an exact byte copy for every size, alignment and buffer pairing", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 1600 }),
      fc.nat(64),
      fc.nat(64),
      fc.constantFrom("shared-shared", "shared-private", "same"),
      (bytes, srcOff, dstOff, pairing) => {
        const src = sharedMem(4096);
        const dst =
          pairing === "same" ? src : pairing === "shared-shared" ? sharedMem(4096) : privateMem(4096);
        const dOff = pairing === "same" ? 2048 + dstOff : dstOff;
        dst.u8.fill(0xa5);
        src.u8.set(bytes, srcOff);
        copyBytes(dst, dOff, src, srcOff, bytes.length);
        assert.deepEqual(dst.u8.subarray(dOff, dOff + bytes.length), bytes);
        if (pairing !== "same") {
          assert.ok(
            dst.u8.subarray(0, dOff).every((b) => b === 0xa5),
            "nothing written before",
          );
          assert.ok(
            dst.u8.subarray(dOff + bytes.length).every((b) => b === 0xa5),
            "nothing written after",
          );
        }
      },
    ),
    { numRuns: 400 },
  );
});

test("the word copy keeps every NaN bit pattern (V8 must not canonicalise Float64 lanes)", () => {
  const src = sharedMem(256);
  const dst = sharedMem(256);
  const nans = [
    [0x00000001, 0x7ff00000], // signalling NaN
    [0xffffffff, 0x7fffffff],
    [0x00000000, 0x7ff80001],
    [0x12345678, 0xfff00000],
    [0x00000001, 0xfff80000],
  ];
  for (let round = 0; round < 20_000; round++) {
    nans.forEach(([lo, hi], i) => {
      src.u32[2 * i] = lo;
      src.u32[2 * i + 1] = hi;
    });
    for (let i = nans.length * 2; i < 64; i++) src.u32[i] = ((Math.random() * 2 ** 32) >>> 0) | 0x7ff00000;
    copyBytes(dst, 0, src, 0, 256);
    for (let i = 0; i < 64; i++)
      if (dst.u32[i] !== src.u32[i]) assert.fail(`word ${i} changed in round ${round}`);
  }
});

test("overlapping copies inside one buffer behave like copyWithin", () => {
  const m = sharedMem(512);
  for (let i = 0; i < 512; i++) m.u8[i] = i & 0xff;
  const want = Uint8Array.from(m.u8);
  want.copyWithin(8, 0, 200);
  copyBytes(m, 8, m, 0, 200);
  assert.deepEqual(m.u8, want);
});

test("copies from one source memory, any mix of pages, offsets and sizes past the word loop, stay exact (the span cache never hands back a stale view)", () => {
  const src = sharedMem(8 * 4096);
  const dst = sharedMem(8 * 4096);
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          page: fc.nat(6),
          off: fc.constantFrom(0, 8, 2, 64, 1000),
          len: fc.constantFrom(257, 1500, 1514, 2048, 3000),
          fill: fc.nat(255),
        }),
        { minLength: 1, maxLength: 40 },
      ),
      (copies) => {
        for (const c of copies) {
          const at = c.page * 4096 + c.off;
          const len = Math.min(c.len, src.byteLength - at);
          // New bytes at the same place each time: a view is a window, never a snapshot.
          for (let i = 0; i < len; i++) src.u8[at + i] = (c.fill + i) & 0xff;
          dst.u8.fill(0);
          copyBytes(dst, 16, src, at, len);
          for (let i = 0; i < len; i++)
            if (dst.u8[16 + i] !== ((c.fill + i) & 0xff)) assert.fail(`byte ${i} of ${len} from ${at}`);
          assert.equal(dst.u8[16 + len], 0, "nothing past the copy");
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("MTU frames copied between two memories over a pool of 1024 pages make no garbage after the first pass", async () => {
  const src = sharedMem(1024 * 4096);
  const dst = sharedMem(1024 * 4096);
  const gcs = await countGcs((i) => {
    const p = (i & 1023) * 4096;
    copyBytes(dst, p, src, p, 1514);
  }, 400_000);
  assert.equal(gcs, 0, `${gcs} GCs in 400000 copies`);
});

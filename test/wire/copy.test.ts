import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { copyBytes } from "../../src/wire/copy.js";
import { privateMem, sharedMem } from "../../src/wire/mem.js";

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

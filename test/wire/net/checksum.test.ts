import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  checksumUpdate16,
  checksumUpdate32,
  internetChecksum,
  ipv4PseudoHeaderSum,
  onesAdd,
  onesSum,
} from "../../../src/wire/net/checksum.js";
import { hex, pseudoHeaderBytes, referenceChecksum } from "./fixtures.js";

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

test("internetChecksum matches the RFC 1071 section 3 numerical example", () => {
  const b = hex("00 01 f2 03 f4 f5 f6 f7");
  assert.equal(onesSum(b, 0, b.length), 0xddf2);
  assert.equal(internetChecksum(b, 0, b.length), 0x220d);
});

test("internetChecksum gives b861 for the classic IPv4 header example", () => {
  const h = hex("45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7");
  assert.equal(internetChecksum(h, 0, h.length), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  assert.equal(onesSum(h, 0, h.length), 0xffff, "a header with its checksum sums to 0xffff");
});

test("internetChecksum pads an odd last byte with zero", () => {
  assert.equal(internetChecksum(hex("01"), 0, 1), ~0x0100 & 0xffff);
  assert.equal(internetChecksum(hex("00 01 f2"), 0, 3), ~(0x0001 + 0xf200) & 0xffff);
});

test("internetChecksum of nothing or of zeros is 0xffff", () => {
  assert.equal(internetChecksum(new Uint8Array(0), 0, 0), 0xffff);
  assert.equal(internetChecksum(new Uint8Array(9), 0, 9), 0xffff);
});

test("internetChecksum agrees with the reference on random ranges", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (b, x, y) => {
      const start = b.length === 0 ? 0 : x % (b.length + 1);
      const end = start + (b.length === 0 ? 0 : y % (b.length - start + 1));
      assert.equal(internetChecksum(b, start, end), referenceChecksum(b.subarray(start, end)));
    }),
  );
});

test("onesSum folds correctly across more than 32768 words of 0xffff", () => {
  for (const n of [0x10000, 0x10001, 200_001]) {
    const b = new Uint8Array(n).fill(0xff);
    b[7] = 0x12;
    assert.equal(internetChecksum(b, 0, n), referenceChecksum(b), `length ${n}`);
  }
});

test("onesSum chains over even-length pieces", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (b, cut) => {
      const mid = (cut % (b.length + 1)) & ~1;
      assert.equal(onesSum(b, mid, b.length, onesSum(b, 0, mid)), onesSum(b, 0, b.length));
    }),
  );
});

test("onesAdd wraps the carry around", () => {
  assert.equal(onesAdd(0xffff, 0x0001), 0x0001);
  assert.equal(onesAdd(0x8000, 0x8000), 0x0001);
  assert.equal(onesAdd(0x1234, 0x0000), 0x1234);
});

test("checksumUpdate16 reproduces the RFC 1624 section 4 example", () => {
  // HC = 0xDD2F, m = 0x5555 -> m' = 0x3285: eqn. 3 gives 0x0000 (eqn. 2 would give 0xFFFF).
  assert.equal(checksumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000);
});

/** Random even-length data, a word index in it, and a new value for that word. */
const wordChange = fc
  .tuple(fc.uint8Array({ minLength: 2, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }))
  .map(([b, i, v]) => ({ b: b.subarray(0, b.length & ~1), at: (i % (b.length >>> 1)) * 2, v }));

test("checksumUpdate16 equals recomputation unless the new data is all zero", () => {
  fc.assert(
    fc.property(wordChange, ({ b, at, v }) => {
      const before = internetChecksum(b, 0, b.length);
      const old = (b[at] << 8) | b[at + 1];
      const after = b.slice();
      after[at] = v >>> 8;
      after[at + 1] = v & 0xff;
      fc.pre(after.some((x) => x !== 0));
      assert.equal(checksumUpdate16(before, old, v), referenceChecksum(after));
    }),
  );
});

test("checksumUpdate32 equals recomputation after an address rewrite", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat({ max: 4 }), u32, (b, w, value) => {
      const at = w * 4;
      const dv = new DataView(b.buffer, b.byteOffset);
      const before = internetChecksum(b, 0, 20);
      const old = dv.getUint32(at);
      dv.setUint32(at, value);
      fc.pre(b.some((x) => x !== 0));
      assert.equal(checksumUpdate32(before, old, value), referenceChecksum(b));
    }),
  );
});

test("ipv4PseudoHeaderSum equals the one's complement sum of the 12 pseudo-header bytes", () => {
  fc.assert(
    fc.property(u32, u32, fc.nat({ max: 255 }), fc.nat({ max: 0xffff }), (saddr, daddr, proto, len) => {
      const ref = 0xffff - referenceChecksum(pseudoHeaderBytes(saddr, daddr, proto, len));
      assert.equal(ipv4PseudoHeaderSum(saddr, daddr, proto, len), ref);
    }),
  );
});

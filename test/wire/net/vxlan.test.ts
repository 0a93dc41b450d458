import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  emitVxlan,
  parseVxlan,
  setVxlanHeader,
  setVxlanVni,
  VXLAN_HLEN,
  VXLAN_PORT,
  vxlanFlags,
  vxlanHasVni,
  vxlanVni,
} from "../../../src/wire/net/vxlan.js";
import { hex, poisoned } from "./fixtures.js";

/** From a Linux kernel VXLAN device: VNI 42. */
const GOLDEN = hex("08 00 00 00 00 00 2a 00");

test("VXLAN_PORT is the IANA port 4789", () => {
  assert.equal(VXLAN_PORT, 4789);
});

test("parseVxlan reads VNI 42 from the kernel's header", () => {
  assert.deepEqual(parseVxlan(GOLDEN), { vni: 42 });
});

test("emitVxlan into a 0xa5 buffer reproduces the kernel's header", () => {
  const b = poisoned(10);
  emitVxlan({ vni: 42 }, b, 1);
  assert.deepEqual(b.subarray(1, 9), GOLDEN);
  assert.equal(b[0], 0xa5);
  assert.equal(b[9], 0xa5);
});

test("parseVxlan rejects a header without the I flag", () => {
  assert.ok(isParseError(parseVxlan(hex("00 00 00 00 00 00 2a 00"))));
  assert.ok(isParseError(parseVxlan(hex("f7 00 00 00 00 00 2a 00"))), "every bit but I");
});

test("parseVxlan ignores reserved bits, as RFC 7348 asks of receivers", () => {
  assert.deepEqual(parseVxlan(hex("ff ff ff ff 12 34 56 ff")), { vni: 0x123456 });
});

test("parseVxlan rejects a short buffer", () => {
  assert.ok(isParseError(parseVxlan(GOLDEN.subarray(0, 7))));
  assert.ok(isParseError(parseVxlan(GOLDEN, 1)));
});

test("Mem accessors read the flags and VNI", () => {
  const m = privateMem(16);
  m.u8.set(GOLDEN, 8);
  assert.equal(vxlanFlags(m, 8), 0x08);
  assert.ok(vxlanHasVni(m, 8));
  assert.equal(vxlanVni(m, 8), 42);
  m.u8[8] = 0;
  assert.ok(!vxlanHasVni(m, 8));
});

test("setVxlanVni rewrites only the VNI; setVxlanHeader writes all 8 bytes", () => {
  const m = privateMem(16);
  m.u8.set(hex("08 11 22 33 00 00 2a 44"));
  setVxlanVni(m, 0, 0xfedcba);
  assert.deepEqual(m.u8.subarray(0, 8), hex("08 11 22 33 fe dc ba 44"));
  assert.equal(vxlanVni(m, 0), 0xfedcba);
  m.u8.fill(0xa5);
  setVxlanHeader(m, 4, 42);
  assert.deepEqual(m.u8.subarray(0, 14), hex("a5 a5 a5 a5 08 00 00 00 00 00 2a 00 a5 a5"));
});

test("parseVxlan inverts emitVxlan over the whole 24-bit VNI range", () => {
  fc.assert(
    fc.property(fc.nat({ max: 0xff_ffff }), fc.nat({ max: 8 }), (vni, at) => {
      const b = poisoned(at + VXLAN_HLEN);
      emitVxlan({ vni }, b, at);
      assert.deepEqual(parseVxlan(b, at), { vni });
    }),
  );
});

test("parseVxlan never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), fc.integer({ min: -1, max: 13 }), (b, at) => {
      const r = parseVxlan(b, at);
      if (!isParseError(r)) assert.ok(r.vni >= 0 && r.vni <= 0xff_ffff);
    }),
  );
});

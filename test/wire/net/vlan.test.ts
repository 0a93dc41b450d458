import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import { ETH_P_IP } from "../../../src/wire/net/ethernet.js";
import {
  emitVlanTag,
  packVlanTci,
  parseVlanTag,
  setVlanTag,
  VLAN_HLEN,
  type VlanTagRepr,
  vlanDei,
  vlanEncapsulatedProto,
  vlanPcp,
  vlanTci,
  vlanTpid,
  vlanVid,
} from "../../../src/wire/net/vlan.js";
import { hex, poisoned } from "./fixtures.js";

test("parseVlanTag splits the TCI into PCP, DEI and VID", () => {
  assert.deepEqual(parseVlanTag(hex("81 00 a0 2a")), { pcp: 5, dei: false, vid: 42 });
  assert.deepEqual(parseVlanTag(hex("81 00 ff ff")), { pcp: 7, dei: true, vid: 4095 });
  assert.deepEqual(parseVlanTag(hex("81 00 10 01")), { pcp: 0, dei: true, vid: 1 });
});

test("Mem accessors read a tagged frame's tag and inner EtherType", () => {
  const m = privateMem(32);
  // dst, src, 802.1Q tag PCP 3 VID 100, then IPv4.
  m.u8.set(hex("ffffffffffff 020000000001 8100 6064 0800"));
  const at = 12;
  assert.equal(vlanTpid(m, at), 0x8100);
  assert.equal(vlanTci(m, at), 0x6064);
  assert.equal(vlanPcp(m, at), 3);
  assert.equal(vlanDei(m, at), false);
  assert.equal(vlanVid(m, at), 100);
  assert.equal(vlanEncapsulatedProto(m, at), ETH_P_IP);
});

test("setVlanTag writes the TPID and TCI only", () => {
  const m = privateMem(8);
  m.u8.fill(0xa5);
  setVlanTag(m, 1, packVlanTci(6, true, 0xabc));
  assert.deepEqual(m.u8, hex("a5 81 00 da bc a5 a5 a5"));
});

test("packVlanTci masks each field to its width", () => {
  assert.equal(packVlanTci(7, true, 4095), 0xffff);
  assert.equal(packVlanTci(8, false, 4096), 0);
});

test("emitVlanTag into a 0xa5 buffer writes all four bytes", () => {
  const b = poisoned(6);
  emitVlanTag({ pcp: 5, dei: false, vid: 42 }, b, 1);
  assert.deepEqual(b, hex("a5 81 00 a0 2a a5"));
});

test("parseVlanTag rejects other TPIDs and short buffers", () => {
  assert.ok(isParseError(parseVlanTag(hex("88 a8 00 01"))), "802.1ad S-tag");
  assert.ok(isParseError(parseVlanTag(hex("08 00 00 01"))));
  assert.ok(isParseError(parseVlanTag(hex("81 00 00"))));
});

test("parseVlanTag inverts emitVlanTag", () => {
  const repr = fc.record<VlanTagRepr>(
    { pcp: fc.nat({ max: 7 }), dei: fc.boolean(), vid: fc.nat({ max: 4095 }) },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(repr, fc.nat({ max: 8 }), (r, at) => {
      const b = poisoned(at + VLAN_HLEN);
      emitVlanTag(r, b, at);
      assert.deepEqual(parseVlanTag(b, at), r);
    }),
  );
});

test("parseVlanTag never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8 }), fc.integer({ min: -1, max: 9 }), (b, at) => {
      parseVlanTag(b, at);
    }),
  );
});

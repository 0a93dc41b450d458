import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import { ipv4PseudoHeaderSum } from "../../../src/wire/net/checksum.js";
import {
  emitIpv4Header,
  formatIpv4,
  IP_DF,
  IP_MF,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type Ipv4HeaderRepr,
  ipv4Check,
  ipv4ChecksumValid,
  ipv4ComputeChecksum,
  ipv4Daddr,
  ipv4FillChecksum,
  ipv4FragOff,
  ipv4HeaderLen,
  ipv4HeaderReprLen,
  ipv4Id,
  ipv4Ihl,
  ipv4Protocol,
  ipv4PseudoHeaderSumAt,
  ipv4Saddr,
  ipv4Tos,
  ipv4TotLen,
  ipv4Ttl,
  ipv4Version,
  parseIpv4,
  parseIpv4Header,
  setIpv4Daddr,
  setIpv4FragOff,
  setIpv4Id,
  setIpv4Ihl,
  setIpv4Protocol,
  setIpv4Saddr,
  setIpv4Tos,
  setIpv4TotLen,
  setIpv4Ttl,
} from "../../../src/wire/net/ipv4.js";
import { hex, poisoned, referenceChecksum } from "./fixtures.js";

/** The classic worked example of the IPv4 header checksum: UDP 192.168.0.1 -> .199, 0xb861. */
const GOLDEN = hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7");
const GOLDEN_REPR: Ipv4HeaderRepr = {
  tos: 0,
  id: 0,
  dontFrag: true,
  moreFrags: false,
  fragOffset: 0,
  ttl: 64,
  protocol: IPPROTO_UDP,
  saddr: 0xc0a8_0001,
  daddr: 0xc0a8_00c7,
  options: new Uint8Array(0),
  payloadLen: 0x73 - 20,
};

/** The golden header followed by its 95-byte payload (zeros), as total length requires. */
function goldenPacket(): Uint8Array {
  const b = new Uint8Array(0x73);
  b.set(GOLDEN);
  return b;
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

test("protocol numbers have their IANA values", () => {
  assert.deepEqual([IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP], [1, 6, 17]);
});

test("formatIpv4 and parseIpv4 convert known addresses", () => {
  assert.equal(formatIpv4(0xc0a8_2a01), "192.168.42.1");
  assert.equal(formatIpv4(0), "0.0.0.0");
  assert.equal(formatIpv4(0xffff_ffff), "255.255.255.255");
  assert.equal(parseIpv4("192.168.42.2"), 0xc0a8_2a02);
  assert.equal(parseIpv4("255.255.255.255"), 0xffff_ffff);
  assert.equal(parseIpv4("10.0.0.0"), 0x0a00_0000);
});

test("parseIpv4 rejects anything but a strict dotted quad", () => {
  for (const bad of [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "1.2.3.999",
    "01.2.3.4",
    "1.2.3.4 ",
    "a.b.c.d",
    "1..2.3",
    "-1.2.3.4",
    "0x1.2.3.4",
    "1.2.3.4\n",
  ]) {
    assert.ok(isParseError(parseIpv4(bad)), JSON.stringify(bad));
  }
});

test("parseIpv4 inverts formatIpv4 for every u32", () => {
  fc.assert(fc.property(u32, (a) => assert.equal(parseIpv4(formatIpv4(a)), a)));
});

test("parseIpv4Header reads the golden header", () => {
  assert.deepEqual(parseIpv4Header(goldenPacket()), GOLDEN_REPR);
});

test("Mem accessors read the golden header's fields", () => {
  const m = privateMem(0x80);
  m.u8.set(GOLDEN, 4);
  const at = 4;
  assert.deepEqual(
    [
      ipv4Version(m, at),
      ipv4Ihl(m, at),
      ipv4HeaderLen(m, at),
      ipv4Tos(m, at),
      ipv4TotLen(m, at),
      ipv4Id(m, at),
    ],
    [4, 5, 20, 0, 0x73, 0],
  );
  assert.equal(ipv4FragOff(m, at), IP_DF);
  assert.deepEqual([ipv4Ttl(m, at), ipv4Protocol(m, at), ipv4Check(m, at)], [64, IPPROTO_UDP, 0xb861]);
  assert.equal(ipv4Saddr(m, at), 0xc0a8_0001);
  assert.equal(ipv4Daddr(m, at), 0xc0a8_00c7);
  assert.ok(ipv4ChecksumValid(m, at));
  assert.equal(ipv4ComputeChecksum(m, at), 0xb861, "the stored check field is skipped");
});

test("Mem setters and ipv4FillChecksum rebuild the golden header", () => {
  const m = privateMem(24);
  m.u8.fill(0xa5);
  setIpv4Ihl(m, 0, 5);
  setIpv4Tos(m, 0, 0);
  setIpv4TotLen(m, 0, 0x73);
  setIpv4Id(m, 0, 0);
  setIpv4FragOff(m, 0, IP_DF);
  setIpv4Ttl(m, 0, 64);
  setIpv4Protocol(m, 0, IPPROTO_UDP);
  setIpv4Saddr(m, 0, 0xc0a8_0001);
  setIpv4Daddr(m, 0, 0xc0a8_00c7);
  ipv4FillChecksum(m, 0);
  assert.deepEqual(m.u8.subarray(0, 20), GOLDEN);
  assert.equal(m.u8[20], 0xa5);
});

test("ipv4ChecksumValid notices a flipped bit", () => {
  const m = privateMem(24);
  m.u8.set(GOLDEN);
  m.u8[8] ^= 0x01;
  assert.ok(!ipv4ChecksumValid(m, 0));
});

test("emitIpv4Header into a 0xa5 buffer reproduces the golden header", () => {
  const b = poisoned(22);
  emitIpv4Header(GOLDEN_REPR, b, 1);
  assert.deepEqual(b.subarray(1, 21), GOLDEN);
  assert.equal(b[0], 0xa5);
  assert.equal(b[21], 0xa5);
});

test("emitIpv4Header with options sets IHL and checksums the options too", () => {
  const options = hex("94 04 00 00"); // Router Alert
  const r = {
    ...GOLDEN_REPR,
    options,
    payloadLen: 0,
    moreFrags: true,
    fragOffset: 0x1abc,
    tos: 0xb8,
    id: 0xbeef,
  };
  const b = poisoned(24);
  emitIpv4Header(r, b);
  assert.equal(b[0], 0x46);
  assert.deepEqual(b.subarray(20, 24), options);
  assert.equal((b[6] << 8) | b[7], IP_DF | IP_MF | 0x1abc);
  const zeroed = b.slice();
  zeroed[10] = 0;
  zeroed[11] = 0;
  assert.equal((b[10] << 8) | b[11], referenceChecksum(zeroed));
  assert.deepEqual(parseIpv4Header(b), r);
});

/** The golden packet with byte `i` set to `v`, cut to `len` bytes. */
function withByte(i: number, v: number, len = 0x73): Uint8Array {
  const b = goldenPacket();
  b[i] = v;
  return b.subarray(0, len);
}

test("parseIpv4Header rejects bad version, IHL, lengths and checksum", () => {
  const cases: [string, Uint8Array][] = [
    ["version 6", withByte(0, 0x65)],
    ["IHL 4", withByte(0, 0x44)],
    ["IHL 15 past buffer", withByte(0, 0x4f, 40)],
    ["total length 19", withByte(3, 19)],
    ["total length past buffer", withByte(0, 0x45, 0x72)],
    ["bad checksum", withByte(11, 0x71)],
    ["19 bytes", withByte(0, 0x45, 19)],
  ];
  for (const [name, b] of cases) assert.ok(isParseError(parseIpv4Header(b)), name);
});

test("parseIpv4Header ignores the reserved flag bit", () => {
  const b = goldenPacket();
  b[6] |= 0x80;
  b[10] = 0;
  b[11] = 0;
  const c = referenceChecksum(b.subarray(0, 20));
  b[10] = c >>> 8;
  b[11] = c & 0xff;
  assert.deepEqual(parseIpv4Header(b), GOLDEN_REPR);
});

const reprArb = fc.record<Ipv4HeaderRepr>(
  {
    tos: fc.nat({ max: 255 }),
    id: fc.nat({ max: 0xffff }),
    dontFrag: fc.boolean(),
    moreFrags: fc.boolean(),
    fragOffset: fc.nat({ max: 0x1fff }),
    ttl: fc.nat({ max: 255 }),
    protocol: fc.nat({ max: 255 }),
    saddr: u32,
    daddr: u32,
    options: fc
      .nat({ max: 10 })
      .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
    payloadLen: fc.nat({ max: 600 }),
  },
  { noNullPrototype: true },
);

test("parseIpv4Header inverts emitIpv4Header", () => {
  fc.assert(
    fc.property(reprArb, fc.nat({ max: 8 }), (r, at) => {
      const b = poisoned(at + ipv4HeaderReprLen(r) + r.payloadLen);
      emitIpv4Header(r, b, at);
      assert.deepEqual(parseIpv4Header(b, at), r);
      assert.equal(onesComplementOk(b.subarray(at, at + ipv4HeaderReprLen(r))), true);
    }),
  );
});

function onesComplementOk(h: Uint8Array): boolean {
  return referenceChecksum(h) === 0;
}

test("parseIpv4Header never throws on random or truncated bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -1, max: 81 }), (b, at) => {
      if (b.length > 0) b[0] = 0x40 | (b[0] & 0x0f); // reach past the version check
      parseIpv4Header(b, at);
    }),
  );
  const g = goldenPacket();
  for (let n = 0; n <= g.length; n++)
    assert.ok(isParseError(parseIpv4Header(g.subarray(0, n))) === n < g.length);
});

test("ipv4PseudoHeaderSumAt reads the addresses from the header like ipv4PseudoHeaderSum", () => {
  fc.assert(
    fc.property(u32, u32, fc.nat({ max: 255 }), fc.nat({ max: 0xffff }), (saddr, daddr, proto, len) => {
      const m = privateMem(32);
      m.u8.fill(0xa5);
      setIpv4Saddr(m, 4, saddr);
      setIpv4Daddr(m, 4, daddr);
      assert.equal(ipv4PseudoHeaderSumAt(m, 4, proto, len), ipv4PseudoHeaderSum(saddr, daddr, proto, len));
    }),
  );
});

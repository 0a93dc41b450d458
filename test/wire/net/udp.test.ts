import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { type Mem, privateMem } from "../../../src/wire/mem.js";
import { IPPROTO_UDP, setIpv4Daddr, setIpv4Saddr } from "../../../src/wire/net/ipv4.js";
import {
  emitUdp,
  parseUdp,
  setUdpCheck,
  setUdpDest,
  setUdpLen,
  setUdpSource,
  UDP_HLEN,
  type UdpRepr,
  udpCheck,
  udpChecksumValid,
  udpComputeChecksum,
  udpDest,
  udpFillChecksum,
  udpLen,
  udpReprLen,
  udpSource,
} from "../../../src/wire/net/udp.js";
import { VXLAN_PORT } from "../../../src/wire/net/vxlan.js";
import { hex, poisoned, pseudoHeaderBytes, referenceChecksum } from "./fixtures.js";

const ADDRS = { saddr: 0xc0a8_0101, daddr: 0xc0a8_0102 }; // 192.168.1.1 -> .2
const DATA = hex("08 00 00 00 00 00 2a 00 68 65 6c 6c 6f"); // a VXLAN header and "hello"
const DGRAM: UdpRepr = { source: 54321, dest: VXLAN_PORT, data: DATA };

/** The datagram built by hand, checksum over pseudo-header + header + data by the reference. */
function datagramBytes(): Uint8Array {
  const b = new Uint8Array(UDP_HLEN + DATA.length);
  b.set(hex(`d4 31 12 b5 00 ${(UDP_HLEN + DATA.length).toString(16).padStart(2, "0")} 00 00`));
  b.set(DATA, UDP_HLEN);
  const c = referenceChecksum([...pseudoHeaderBytes(ADDRS.saddr, ADDRS.daddr, IPPROTO_UDP, b.length), ...b]);
  b[6] = c >>> 8;
  b[7] = c & 0xff;
  return b;
}

test("emitUdp with addresses writes the hand-built datagram and its checksum", () => {
  const b = poisoned(udpReprLen(DGRAM) + 2);
  emitUdp(DGRAM, b, 1, ADDRS);
  assert.deepEqual(b.subarray(1, 1 + udpReprLen(DGRAM)), datagramBytes());
  assert.equal(b[0], 0xa5);
  assert.equal(b[b.length - 1], 0xa5);
});

test("emitUdp without addresses writes checksum 0 (none)", () => {
  const b = poisoned(udpReprLen(DGRAM));
  emitUdp(DGRAM, b);
  assert.equal((b[6] << 8) | b[7], 0);
  assert.deepEqual(parseUdp(b, 0, ADDRS), DGRAM, "0 is accepted even when addresses are given");
});

test("parseUdp verifies the checksum only when given the addresses", () => {
  const b = datagramBytes();
  assert.deepEqual(parseUdp(b, 0, ADDRS), DGRAM);
  b[10] ^= 0x02;
  assert.ok(isParseError(parseUdp(b, 0, ADDRS)));
  assert.ok(!isParseError(parseUdp(b)));
  assert.ok(
    isParseError(parseUdp(datagramBytes(), 0, { ...ADDRS, daddr: ADDRS.daddr + 1 })),
    "other address",
  );
});

/** A Mem with an IPv4 header at IP (only the addresses matter here) and the datagram at UDP. */
const IP = 2;
const UDP = IP + 20;
function ipUdpMem(datagram: Uint8Array): Mem {
  const m = privateMem(64);
  m.u8.fill(0xa5);
  setIpv4Saddr(m, IP, ADDRS.saddr);
  setIpv4Daddr(m, IP, ADDRS.daddr);
  m.u8.set(datagram, UDP);
  return m;
}

test("Mem accessors read the datagram and the checksum helpers agree", () => {
  const d = datagramBytes();
  const m = ipUdpMem(d);
  assert.deepEqual([udpSource(m, UDP), udpDest(m, UDP), udpLen(m, UDP)], [54321, VXLAN_PORT, d.length]);
  assert.equal(udpCheck(m, UDP), (d[6] << 8) | d[7]);
  assert.equal(udpComputeChecksum(m, UDP, IP), udpCheck(m, UDP));
  assert.ok(udpChecksumValid(m, UDP, IP));
  setIpv4Daddr(m, IP, ADDRS.daddr + 1);
  assert.ok(!udpChecksumValid(m, UDP, IP), "the pseudo-header covers the addresses");
  setUdpCheck(m, UDP, 0);
  assert.ok(udpChecksumValid(m, UDP, IP), "no checksum is always valid");
});

test("Mem setters and udpFillChecksum rebuild the datagram", () => {
  const m = ipUdpMem(new Uint8Array(0));
  m.u8.set(DATA, UDP + UDP_HLEN);
  setUdpSource(m, UDP, 54321);
  setUdpDest(m, UDP, VXLAN_PORT);
  setUdpLen(m, UDP, UDP_HLEN + DATA.length);
  udpFillChecksum(m, UDP, IP);
  assert.deepEqual(m.u8.subarray(UDP, UDP + UDP_HLEN + DATA.length), datagramBytes());
});

test("a checksum that computes to 0 is sent as 0xffff", () => {
  // Choose the last data word so that the whole sum is 0xffff, making the complement 0.
  const r: UdpRepr = { source: 1, dest: 2, data: new Uint8Array(2) };
  const b = new Uint8Array(udpReprLen(r));
  emitUdp(r, b, 0, ADDRS);
  const c = (b[6] << 8) | b[7];
  r.data = Uint8Array.of(c >>> 8, c & 0xff);
  emitUdp(r, b, 0, ADDRS);
  assert.equal((b[6] << 8) | b[7], 0xffff);
  assert.deepEqual(parseUdp(b, 0, ADDRS), r);
  const m = ipUdpMem(b);
  assert.equal(udpComputeChecksum(m, UDP, IP), 0xffff);
  assert.ok(udpChecksumValid(m, UDP, IP));
});

test("parseUdp rejects a length below 8 or past the buffer", () => {
  const b = datagramBytes();
  b[5] = 7;
  assert.ok(isParseError(parseUdp(b)));
  b[5] = b.length + 1;
  assert.ok(isParseError(parseUdp(b)));
  assert.ok(isParseError(parseUdp(b.subarray(0, 7))));
});

test("parseUdp stops at the length field, ignoring trailing padding", () => {
  const b = new Uint8Array(datagramBytes().length + 6);
  b.set(datagramBytes());
  assert.deepEqual(parseUdp(b, 0, ADDRS), DGRAM);
});

test("parseUdp inverts emitUdp with and without a checksum", () => {
  const repr = fc.record<UdpRepr>(
    {
      source: fc.nat({ max: 0xffff }),
      dest: fc.nat({ max: 0xffff }),
      data: fc.uint8Array({ maxLength: 200 }),
    },
    { noNullPrototype: true },
  );
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const addrs = fc.option(fc.record({ saddr: u32, daddr: u32 }), { nil: undefined });
  fc.assert(
    fc.property(repr, addrs, fc.nat({ max: 8 }), (r, a, at) => {
      const b = poisoned(at + udpReprLen(r));
      emitUdp(r, b, at, a);
      assert.deepEqual(parseUdp(b, at, a), r);
    }),
  );
});

test("parseUdp never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -1, max: 41 }), (b, at) => {
      parseUdp(b, at, ADDRS);
    }),
  );
});

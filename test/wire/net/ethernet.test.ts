import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  ETH_HLEN,
  ETH_P_8021Q,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  type EthernetRepr,
  emitEthernet,
  ethDstMac,
  ethSrcMac,
  ethType,
  formatMac,
  isBroadcast,
  isMulticast,
  MAC_BROADCAST,
  parseEthernet,
  parseMac,
  setEthDstMac,
  setEthSrcMac,
  setEthType,
} from "../../../src/wire/net/ethernet.js";
import { ARP_REQUEST_FRAME, hex, poisoned } from "./fixtures.js";

const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const SRC_MAC = 0x4e8c_d857_734c;

test("EtherType constants have their IEEE values", () => {
  assert.deepEqual([ETH_P_IP, ETH_P_ARP, ETH_P_8021Q, ETH_P_IPV6], [0x0800, 0x0806, 0x8100, 0x86dd]);
});

test("parseEthernet reads the captured ARP request's header", () => {
  assert.deepEqual(parseEthernet(ARP_REQUEST_FRAME), {
    dst: MAC_BROADCAST,
    src: SRC_MAC,
    ethertype: ETH_P_ARP,
  });
});

test("Mem accessors read the captured header at a non-zero offset", () => {
  const m = privateMem(64);
  m.u8.set(ARP_REQUEST_FRAME, 10);
  assert.equal(ethDstMac(m, 10), MAC_BROADCAST);
  assert.equal(ethSrcMac(m, 10), SRC_MAC);
  assert.equal(ethType(m, 10), ETH_P_ARP);
});

test("Mem setters write exactly the header bytes", () => {
  const m = privateMem(24);
  m.u8.fill(0xa5);
  setEthDstMac(m, 2, 0x0102_0304_0506);
  setEthSrcMac(m, 2, 0xa1b2_c3d4_e5f6);
  setEthType(m, 2, ETH_P_IPV6);
  assert.deepEqual(m.u8.subarray(0, 18), hex("a5 a5 01 02 03 04 05 06 a1 b2 c3 d4 e5 f6 86 dd a5 a5"));
});

test("emitEthernet into a 0xa5 buffer reproduces the captured header", () => {
  const b = poisoned(ETH_HLEN + 2);
  emitEthernet({ dst: MAC_BROADCAST, src: SRC_MAC, ethertype: ETH_P_ARP }, b, 1);
  assert.deepEqual(b.subarray(1, 1 + ETH_HLEN), ARP_REQUEST_FRAME.subarray(0, ETH_HLEN));
  assert.equal(b[0], 0xa5);
  assert.equal(b[ETH_HLEN + 1], 0xa5);
});

test("formatMac and parseMac convert known addresses", () => {
  assert.equal(formatMac(SRC_MAC), "4e:8c:d8:57:73:4c");
  assert.equal(formatMac(0), "00:00:00:00:00:00");
  assert.equal(formatMac(MAC_BROADCAST), "ff:ff:ff:ff:ff:ff");
  assert.equal(parseMac("4e:8c:d8:57:73:4c"), SRC_MAC);
  assert.equal(parseMac("FF:FF:FF:FF:FF:FF"), MAC_BROADCAST);
});

test("parseMac rejects anything but six colon-separated hex octets", () => {
  for (const bad of [
    "",
    "4e:8c:d8:57:73",
    "4e:8c:d8:57:73:4c:00",
    "4e-8c-d8-57-73-4c",
    "4e8c.d857.734c",
    "4e:8c:d8:57:73:4g",
    "4e:8c:d8:57:73:4",
    "4e:8c:d8:57:73:4cc",
    " 4e:8c:d8:57:73:4c",
    "4e:8c:d8:57:73:4c\n",
    "+e:8c:d8:57:73:4c",
  ]) {
    assert.ok(isParseError(parseMac(bad)), JSON.stringify(bad));
  }
});

test("parseMac inverts formatMac for every 48-bit number", () => {
  fc.assert(fc.property(mac48, (mac) => assert.equal(parseMac(formatMac(mac)), mac)));
});

test("isBroadcast and isMulticast look at the whole address and the I/G bit", () => {
  assert.ok(isBroadcast(MAC_BROADCAST) && isMulticast(MAC_BROADCAST));
  assert.ok(!isBroadcast(SRC_MAC) && !isMulticast(SRC_MAC));
  assert.ok(isMulticast(0x0100_5e00_0001), "IPv4 multicast 01:00:5e:00:00:01");
  assert.ok(isMulticast(0x3333_0000_0001), "IPv6 multicast 33:33:00:00:00:01");
  assert.ok(!isMulticast(0x0200_0000_0001), "locally administered unicast");
  assert.ok(!isBroadcast(0xffff_ffff_fffe));
});

test("parseEthernet inverts emitEthernet", () => {
  const repr = fc.record<EthernetRepr>(
    { dst: mac48, src: mac48, ethertype: fc.nat({ max: 0xffff }) },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(repr, fc.nat({ max: 8 }), (r, at) => {
      const b = poisoned(at + ETH_HLEN);
      emitEthernet(r, b, at);
      assert.deepEqual(parseEthernet(b, at), r);
    }),
  );
});

test("parseEthernet rejects a short buffer or a bad offset without throwing", () => {
  assert.ok(isParseError(parseEthernet(ARP_REQUEST_FRAME.subarray(0, 13))));
  assert.ok(isParseError(parseEthernet(ARP_REQUEST_FRAME, 30)));
  assert.ok(isParseError(parseEthernet(ARP_REQUEST_FRAME, -1)));
  assert.ok(isParseError(parseEthernet(ARP_REQUEST_FRAME, Number.NaN)));
});

test("parseEthernet never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: -2, max: 40 }), (b, at) => {
      parseEthernet(b, at);
    }),
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  ARP_LEN,
  ARPOP_REPLY,
  ARPOP_REQUEST,
  type ArpRepr,
  arpHlen,
  arpHtype,
  arpIsEthIpv4,
  arpOper,
  arpPlen,
  arpPtype,
  arpSha,
  arpSpa,
  arpTha,
  arpTpa,
  emitArp,
  formatArp,
  parseArp,
  setArpEthIpv4,
  setArpOper,
  setArpSha,
  setArpSpa,
  setArpTha,
  setArpTpa,
} from "../../../src/wire/net/arp.js";
import { ETH_HLEN, ETH_P_IP } from "../../../src/wire/net/ethernet.js";
import { parseIpv4 } from "../../../src/wire/net/ipv4.js";
import { ARP_REQUEST_FRAME, poisoned } from "./fixtures.js";

const SHA = 0x4e8c_d857_734c;
const REQUEST: ArpRepr = { oper: ARPOP_REQUEST, sha: SHA, spa: 0xc0a8_2a01, tha: 0, tpa: 0xc0a8_2a02 };
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });

test("parseArp reads the captured request: who-has 192.168.42.2 tell 192.168.42.1", () => {
  const r = parseArp(ARP_REQUEST_FRAME, ETH_HLEN);
  assert.deepEqual(r, REQUEST);
  assert.equal(REQUEST.spa, parseIpv4("192.168.42.1"));
  assert.equal(formatArp(REQUEST), "who-has 192.168.42.2 tell 192.168.42.1");
});

test("Mem accessors read every field of the captured request", () => {
  const m = privateMem(48);
  m.u8.set(ARP_REQUEST_FRAME);
  const at = ETH_HLEN;
  assert.deepEqual(
    [arpHtype(m, at), arpPtype(m, at), arpHlen(m, at), arpPlen(m, at), arpOper(m, at)],
    [1, ETH_P_IP, 6, 4, ARPOP_REQUEST],
  );
  assert.ok(arpIsEthIpv4(m, at));
  assert.equal(arpSha(m, at), SHA);
  assert.equal(arpSpa(m, at), 0xc0a8_2a01);
  assert.equal(arpTha(m, at), 0);
  assert.equal(arpTpa(m, at), 0xc0a8_2a02);
});

test("Mem setters rebuild the captured request byte for byte", () => {
  const m = privateMem(32);
  m.u8.fill(0xa5);
  setArpEthIpv4(m, 2);
  setArpOper(m, 2, ARPOP_REQUEST);
  setArpSha(m, 2, SHA);
  setArpSpa(m, 2, 0xc0a8_2a01);
  setArpTha(m, 2, 0);
  setArpTpa(m, 2, 0xc0a8_2a02);
  assert.deepEqual(m.u8.subarray(2, 2 + ARP_LEN), ARP_REQUEST_FRAME.subarray(ETH_HLEN));
  assert.equal(m.u8[1], 0xa5);
  assert.equal(m.u8[2 + ARP_LEN], 0xa5);
});

test("arpIsEthIpv4 is false for another hardware type", () => {
  const m = privateMem(32);
  m.u8.set(ARP_REQUEST_FRAME.subarray(ETH_HLEN));
  m.u8[1] = 6; // IEEE 802
  assert.ok(!arpIsEthIpv4(m, 0));
});

test("emitArp into a 0xa5 buffer reproduces the captured request", () => {
  const b = poisoned(ARP_LEN);
  emitArp(REQUEST, b);
  assert.deepEqual(b, ARP_REQUEST_FRAME.subarray(ETH_HLEN));
});

test("formatArp describes a reply", () => {
  const reply = { oper: ARPOP_REPLY, sha: 0x0200_0000_0002, spa: 0xc0a8_2a02, tha: SHA, tpa: 0xc0a8_2a01 };
  assert.equal(formatArp(reply), "192.168.42.2 is-at 02:00:00:00:00:02");
});

test("parseArp rejects non-Ethernet/IPv4 ARP and short buffers", () => {
  const body = ARP_REQUEST_FRAME.slice(ETH_HLEN);
  for (const [i, v] of [
    [1, 6],
    [2, 0x86],
    [4, 8],
    [5, 16],
  ]) {
    const b = body.slice();
    b[i] = v;
    assert.ok(isParseError(parseArp(b)), `byte ${i} = ${v}`);
  }
  assert.ok(isParseError(parseArp(body.subarray(0, ARP_LEN - 1))));
});

test("parseArp inverts emitArp", () => {
  const repr = fc.record<ArpRepr>(
    { oper: fc.nat({ max: 0xffff }), sha: mac48, spa: u32, tha: mac48, tpa: u32 },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(repr, fc.nat({ max: 8 }), (r, at) => {
      const b = poisoned(at + ARP_LEN);
      emitArp(r, b, at);
      assert.deepEqual(parseArp(b, at), r);
    }),
  );
});

test("parseArp never throws on random or truncated bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -1, max: 41 }), (b, at) => {
      parseArp(b, at);
    }),
  );
  for (let n = 0; n <= ARP_LEN; n++) parseArp(ARP_REQUEST_FRAME.subarray(ETH_HLEN, ETH_HLEN + n));
});

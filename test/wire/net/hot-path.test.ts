/**
 * The datapath faces of wire/net, held to a budget of zero garbage collections. Each loop
 * is one datapath step of realistic size: V8 inlines the accessors there. MACs (48-bit)
 * and addresses >= 2**31 are not small integers, so across a call V8 did not inline they
 * are boxed; that is a calling cost of the number representation, not of these functions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { privateMem } from "../../../src/wire/mem.js";
import { arpSha, arpSpa, arpTpa, setArpSpa, setArpTha, setArpTpa } from "../../../src/wire/net/arp.js";
import { checksumUpdate32, onesSum } from "../../../src/wire/net/checksum.js";
import {
  ethDstIsMulticast,
  ethDstMac,
  ethSrcMac,
  isMulticast,
  setEthDstMac,
} from "../../../src/wire/net/ethernet.js";
import { icmpChecksumValid, icmpFillChecksum } from "../../../src/wire/net/icmp.js";
import { ipv4ChecksumValid, ipv4FillChecksum, ipv4Saddr, setIpv4Saddr } from "../../../src/wire/net/ipv4.js";
import { udpChecksumValid, udpFillChecksum } from "../../../src/wire/net/udp.js";
import { setVxlanHeader, vxlanHasVni, vxlanVni } from "../../../src/wire/net/vxlan.js";
import { ARP_REQUEST_FRAME, countGcs } from "./fixtures.js";

function packetMem() {
  const m = privateMem(2048);
  for (let i = 0; i < m.byteLength; i++) m.u8[i] = (i * 13) & 0xff;
  m.u8.set(ARP_REQUEST_FRAME); // Ethernet + ARP at 0..41
  m.u8[100] = 0x45; // IPv4 at 100 (from 192.x), UDP at 120 (length 600)
  m.dv.setUint32(112, 0xc0a8_2a01);
  m.dv.setUint16(124, 600);
  return m;
}

test("Ethernet and ARP accessors rewrite a request into a reply without allocating", async () => {
  const m = packetMem();
  let sink = 0;
  const step = (i: number) => {
    const src = ethSrcMac(m, 0);
    if (isMulticast(ethDstMac(m, 0)) || ethDstIsMulticast(m, 0)) sink ^= 1;
    setEthDstMac(m, 0, src);
    setArpTha(m, 14, arpSha(m, 14));
    const tpa = arpTpa(m, 14);
    setArpTpa(m, 14, arpSpa(m, 14));
    setArpSpa(m, 14, tpa + (i & 1));
  };
  assert.equal(await countGcs(step, 300_000), 0);
  assert.ok(sink >= 0);
});

test("IPv4, UDP and VXLAN checksum and header helpers allocate nothing", async () => {
  const m = packetMem();
  let sink = 0;
  const step = (i: number) => {
    const old = ipv4Saddr(m, 100);
    setIpv4Saddr(m, 100, old ^ (i & 0xff));
    ipv4FillChecksum(m, 100);
    if (ipv4ChecksumValid(m, 100)) sink ^= 1;
    udpFillChecksum(m, 120, 100);
    if (udpChecksumValid(m, 120, 100)) sink ^= 2;
    setVxlanHeader(m, 128, i & 0xff_ffff);
    if (vxlanHasVni(m, 128)) sink ^= vxlanVni(m, 128);
  };
  assert.equal(await countGcs(step, 300_000), 0);
  assert.ok(sink >= 0);
});

test("ICMP checksums and RFC 1624 updates allocate nothing", async () => {
  const m = packetMem();
  let sink = 0;
  const step = (i: number) => {
    icmpFillChecksum(m, 800, 64);
    if (icmpChecksumValid(m, 800, 64)) sink ^= 1;
    sink ^= checksumUpdate32(onesSum(m.u8, 800, 864), m.dv.getUint32(804), i);
  };
  assert.equal(await countGcs(step, 300_000), 0);
  assert.ok(sink >= 0);
});

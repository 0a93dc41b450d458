/**
 * pkt-gen's ping answering ARP for its -s address (arp-answer.ts), over a real pipe: the
 * peer end sends a frame, pkt-gen's end answers or not, the peer reads what came back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapRegion } from "../../src/netmap/mem.js";
import { createPipe, pipeRegionSpec } from "../../src/netmap/pipe.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { answerArp } from "../../src/pktgen/arp-answer.js";
import { describePipeEnd, openRemotePort } from "../../src/vale/remote.js";
import { privateMem } from "../../src/wire/mem.js";
import {
  ARPOP_REPLY,
  ARPOP_REQUEST,
  arpOper,
  arpSha,
  arpSpa,
  arpTha,
  arpTpa,
  setArpEthIpv4,
  setArpOper,
  setArpSha,
  setArpSpa,
  setArpTha,
  setArpTpa,
} from "../../src/wire/net/arp.js";
import {
  ETH_P_ARP,
  ETH_P_IP,
  ethDstMac,
  ethSrcMac,
  ethType,
  setEthDstMac,
  setEthSrcMac,
  setEthType,
} from "../../src/wire/net/ethernet.js";

const MY_MAC = 0x02_00_00_00_00_99;
const MY_IP = 0x0a_00_00_63; // 10.0.0.99

let regionId = 31_000;

/** Both ends of a fresh pipe: `peer` (a guest's side of the switch) and `me` (pkt-gen's). */
function pipePair(): { peer: NetmapPort; me: NetmapPort } {
  const slots = 8;
  const spec = pipeRegionSpec(slots);
  const region = new NetmapRegion(regionId++, spec);
  const pipe = createPipe(region, "t", slots);
  const end = (master: boolean): NetmapPort =>
    openRemotePort(describePipeEnd("t", region, spec, pipe, master));
  return { peer: end(true), me: end(false) };
}

function send(p: NetmapPort, f: Uint8Array): void {
  const m = p.mem;
  const r = p.tx[0].r;
  const h = ringHead(m, r);
  const s = ringSlot(r, h);
  m.u8.set(f, p.region.bufOff(slotBufIdx(m, s)));
  slotSetLen(m, s, f.length);
  const n = nmRingNext(p.tx[0].numSlots, h);
  ringSetHead(m, r, n);
  ringSetCur(m, r, n);
  p.txsync();
}

/** Every frame waiting on `p`'s RX ring, as copies. */
function recv(p: NetmapPort): Uint8Array[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const out: Uint8Array[] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    out.push(m.u8.slice(off, off + slotLen(m, s)));
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return out;
}

/** pkt-gen's end takes what came and answers what it should; returns the answers queued. */
function serve(me: NetmapPort): number {
  const m = me.mem;
  const r = me.rx[0].r;
  me.rxsync();
  let answered = 0;
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    if (answerArp(me, me.region.bufOff(slotBufIdx(m, s)), slotLen(m, s), MY_IP, MY_MAC)) answered++;
    h = nmRingNext(me.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  me.txsync();
  return answered;
}

interface Req {
  ethType: number;
  oper: number;
  sha: number;
  spa: number;
  tpa: number;
  len: number;
}

function arpFrame(q: Req): Uint8Array {
  const m = privateMem(Math.max(q.len, 42));
  setEthDstMac(m, 0, 0xffff_ffff_ffff);
  setEthSrcMac(m, 0, q.sha);
  setEthType(m, 0, q.ethType);
  setArpEthIpv4(m, 14);
  setArpOper(m, 14, q.oper);
  setArpSha(m, 14, q.sha);
  setArpSpa(m, 14, q.spa);
  setArpTha(m, 14, 0);
  setArpTpa(m, 14, q.tpa);
  return m.u8.slice(0, q.len);
}

test("a request for the -s address gets one reply from -S, addressed to the asker", () => {
  const { peer, me } = pipePair();
  const guest = 0x00_16_3e_00_01_00;
  send(
    peer,
    arpFrame({ ethType: ETH_P_ARP, oper: ARPOP_REQUEST, sha: guest, spa: 0x0a000001, tpa: MY_IP, len: 60 }),
  );
  assert.equal(serve(me), 1);
  const got = recv(peer);
  assert.equal(got.length, 1);
  const m = privateMem(got[0]!.length);
  m.u8.set(got[0]!);
  assert.equal(got[0]!.length, 60);
  assert.equal(ethDstMac(m, 0), guest);
  assert.equal(ethSrcMac(m, 0), MY_MAC);
  assert.equal(ethType(m, 0), ETH_P_ARP);
  assert.equal(arpOper(m, 14), ARPOP_REPLY);
  assert.equal(arpSha(m, 14), MY_MAC);
  assert.equal(arpSpa(m, 14), MY_IP);
  assert.equal(arpTha(m, 14), guest);
  assert.equal(arpTpa(m, 14), 0x0a000001);
});

test("anything else is left unanswered: other targets, replies, other ethertypes, short frames, group senders", () => {
  const unicastMac = fc
    .integer({ min: 0, max: 0xffff_ffff_ffff })
    .map((v) => v - (Math.floor(v / 2 ** 40) % 2) * 2 ** 40);
  fc.assert(
    fc.property(
      fc.record({
        ethType: fc.constantFrom(ETH_P_ARP, ETH_P_IP, 0x86dd),
        oper: fc.constantFrom(ARPOP_REQUEST, ARPOP_REPLY, 3),
        sha: fc.oneof(unicastMac, fc.integer({ min: 0, max: 0xffff_ffff_ffff })),
        spa: fc.integer({ min: 0, max: 0xffff_ffff }),
        tpa: fc.oneof(fc.constant(MY_IP), fc.integer({ min: 0, max: 0xffff_ffff })),
        len: fc.integer({ min: 14, max: 80 }),
      }),
      (q) => {
        const { peer, me } = pipePair();
        send(peer, arpFrame(q));
        const should =
          q.ethType === ETH_P_ARP &&
          q.oper === ARPOP_REQUEST &&
          q.tpa === MY_IP &&
          q.len >= 42 &&
          Math.floor(q.sha / 2 ** 40) % 2 === 0;
        assert.equal(serve(me), should ? 1 : 0);
        assert.equal(recv(peer).length, should ? 1 : 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("a full TX ring: the request is left unanswered, nothing queued over what waits", () => {
  const { peer, me } = pipePair();
  // Fill pkt-gen's TX ring; the peer reads none of it yet.
  const m = me.mem;
  const r = me.tx[0].r;
  let h = ringHead(m, r);
  let filled = 0;
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    slotSetLen(m, ringSlot(r, h), 60);
    h = nmRingNext(me.tx[0].numSlots, h);
    filled++;
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  me.txsync();
  assert.equal(nmRingSpace(m, r), 0, "the ring stays full while the peer has not read");
  send(
    peer,
    arpFrame({
      ethType: ETH_P_ARP,
      oper: ARPOP_REQUEST,
      sha: 0x02_00_00_00_00_01,
      spa: 1,
      tpa: MY_IP,
      len: 60,
    }),
  );
  assert.equal(serve(me), 0);
  assert.equal(recv(peer).length, filled);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { SEND_ENOBUFS, SEND_OK } from "../../src/stack/send-status.js";
import { ARPOP_REPLY, ARPOP_REQUEST, emitArp } from "../../src/wire/net/arp.js";
import { ETH_HLEN, ETH_P_ARP, emitEthernet } from "../../src/wire/net/ethernet.js";
import { arpFrame, arpRequestFrom, IP_C, MAC_C, toHex } from "./frames.js";
import { IP_A, IP_B, MAC_A, MAC_B, pair } from "./harness.js";

const IP_NOBODY = 0x0a00_0063; // 10.0.0.99

/** Ethernet + ARP built by the wire module's emitters, independent of the stack. */
function expectedArp(
  dst: number,
  src: number,
  oper: number,
  sha: number,
  spa: number,
  tha: number,
  tpa: number,
) {
  const b = new Uint8Array(ETH_HLEN + 28);
  emitEthernet({ dst, src, ethertype: ETH_P_ARP }, b);
  emitArp({ oper, sha, spa, tha, tpa }, b, ETH_HLEN);
  return toHex(b);
}

test("up() sends one gratuitous ARP request for our own address, byte for byte", () => {
  const p = pair();
  assert.equal(p.devA.sent.length, 1);
  assert.equal(
    toHex(p.devA.sent[0].bytes),
    expectedArp(0xffff_ffff_ffff, MAC_A, ARPOP_REQUEST, MAC_A, IP_A, 0, IP_A),
  );
  assert.equal(p.devA.sent[0].flags, 0);
  // The peer learns nothing from it: it holds no entry for A and was not asked.
  assert.equal(p.b.arpLookup(IP_A), undefined);
  assert.equal(p.b.counters.get("arpRequestsReceived"), 1);
});

test("the first ping resolves the peer by ARP and both caches learn", async () => {
  const p = pair();
  const r = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await r).ok, true);
  assert.equal(p.a.arpLookup(IP_B), MAC_B);
  assert.equal(p.b.arpLookup(IP_A), MAC_A);
  assert.equal(p.a.counters.get("arpRequestsSent"), 2); // gratuitous + who-has
  assert.equal(p.b.counters.get("arpRepliesSent"), 1);
  // The request B answered, and the reply, byte for byte.
  assert.equal(
    toHex(p.devA.sent[1].bytes),
    expectedArp(0xffff_ffff_ffff, MAC_A, ARPOP_REQUEST, MAC_A, IP_A, 0, IP_B),
  );
  assert.equal(toHex(p.devB.sent[1].bytes), expectedArp(MAC_A, MAC_B, ARPOP_REPLY, MAC_B, IP_B, MAC_A, IP_A));
});

test("a request for our address from a stranger is answered and the stranger learnt", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_B), 0, 42, 0);
  assert.equal(
    toHex(p.devB.sent.at(-1)!.bytes),
    expectedArp(MAC_C, MAC_B, ARPOP_REPLY, MAC_B, IP_B, MAC_C, IP_C),
  );
  assert.equal(p.b.arpLookup(IP_C), MAC_C);
});

test("a request for another host teaches nothing and answers nothing", () => {
  const p = pair();
  const before = p.devB.sent.length;
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_NOBODY), 0, 42, 0);
  assert.equal(p.devB.sent.length, before);
  assert.equal(p.b.arpLookup(IP_C), undefined);
});

test("a gratuitous ARP updates an entry we hold and creates none", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_B), 0, 42, 0);
  const moved = 0x0200_0000_00cc;
  p.b.receive(arpRequestFrom(moved, IP_C, IP_C), 0, 42, 0);
  assert.equal(p.b.arpLookup(IP_C), moved);
  p.b.receive(arpRequestFrom(0x0200_0000_0055, 0x0a00_0055, 0x0a00_0055), 0, 42, 0);
  assert.equal(p.b.arpLookup(0x0a00_0055), undefined);
});

test("another MAC claiming our address is counted as a conflict and not learnt", () => {
  const p = pair();
  p.b.receive(arpFrame(ARPOP_REPLY, MAC_C, IP_B, MAC_B, IP_B, MAC_B), 0, 42, 0);
  assert.equal(p.b.counters.get("arpConflicts"), 1);
  assert.equal(p.b.arpLookup(IP_B), undefined);
});

test("a sender with a group MAC is refused as malformed", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(0x0100_5e00_0001, IP_C, IP_B), 0, 42, 0);
  assert.equal(p.b.counters.get("rxDropMalformed"), 1);
  assert.equal(p.b.arpLookup(IP_C), undefined);
});

test("answers expire after timeoutMs and the next frame asks again", async () => {
  const p = pair({ a: { arp: { timeoutMs: 5000 } } });
  const first = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await first).ok, true);
  p.timers.advance(4900);
  assert.equal(p.a.arpLookup(IP_B), MAC_B);
  p.timers.advance(100);
  assert.equal(p.a.arpLookup(IP_B), undefined);
  assert.deepEqual(p.a.arpEntries(), []);
  const sent = p.a.counters.get("arpRequestsSent");
  const again = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await again).ok, true);
  assert.equal(p.a.counters.get("arpRequestsSent"), sent + 1);
});

test("an unanswered address is asked `retries` times, then its frames drop as txDropNoArp", async () => {
  const p = pair({ a: { arp: { retries: 3, retryMs: 1000 } } });
  const r = p.a.ping(IP_NOBODY, { timeoutMs: 10_000 });
  p.timers.advance(0);
  assert.equal(p.a.arpPending, 1);
  assert.deepEqual(
    p.a.arpEntries().map((e) => e.state),
    ["incomplete"],
  );
  p.timers.advance(2000);
  assert.equal(p.a.counters.get("arpRequestsSent"), 1 + 3);
  assert.equal(p.a.counters.get("txDropNoArp"), 0);
  p.timers.advance(1000);
  assert.equal(p.a.counters.get("arpRequestsSent"), 1 + 3);
  assert.equal(p.a.counters.get("txDropNoArp"), 1);
  assert.equal(p.a.arpPending, 0);
  assert.deepEqual(p.a.arpEntries(), []);
  p.timers.advance(7000);
  assert.deepEqual(await r, { ok: false, seq: 0, reason: "timeout" });
});

test("the pending queue is bounded per destination and in total, and drains in order", () => {
  const p = pair({ a: { arp: { pendingPerDest: 4 }, arpPendingSlots: 6 } });
  const got: number[] = [];
  p.b.bindUdp(9, (_s, _p, buf, off) => got.push(buf[off]));
  const sock = p.a.bindUdp(0, () => {});
  p.cut.b = true; // B's ARP replies are lost for now
  const statuses = [0, 1, 2, 3, 4, 5].map((i) => sock.sendTo(IP_B, 9, Uint8Array.of(i)));
  p.timers.advance(0);
  assert.deepEqual(statuses, [SEND_OK, SEND_OK, SEND_OK, SEND_OK, SEND_ENOBUFS, SEND_ENOBUFS]);
  assert.equal(p.a.counters.get("txDropArpQueueFull"), 2);
  // The pool (6) has room for 2 more frames to another destination, and no more.
  const other = [0, 1, 2].map((i) => sock.sendTo(IP_NOBODY, 9, Uint8Array.of(i)));
  assert.deepEqual(other, [SEND_OK, SEND_OK, SEND_ENOBUFS]);
  assert.equal(p.a.arpPending, 6);
  assert.deepEqual(got, []);
  p.cut.b = false;
  p.timers.advance(1000); // the retry is answered
  assert.deepEqual(got, [0, 1, 2, 3]);
  assert.equal(p.a.arpPending, 2);
});

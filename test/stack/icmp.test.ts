import assert from "node:assert/strict";
import { test } from "node:test";
import { ETH_HLEN } from "../../src/wire/net/ethernet.js";
import { ICMP_ECHOREPLY } from "../../src/wire/net/icmp.js";
import { IPPROTO_ICMP } from "../../src/wire/net/ipv4.js";
import { referenceChecksum } from "../wire/net/fixtures.js";
import { echoRequestFrame, IP_C, icmpMessage, ipv4Frame, MAC_C, toHex } from "./frames.js";
import { IP_A, IP_B, MAC_B, pair } from "./harness.js";

test("ping measures the round trip with the injected clock", async () => {
  const p = pair({ latencyMs: 3 });
  // Let the gratuitous ARPs land first: B's would otherwise answer A's question early.
  p.timers.advance(10);
  const first = p.a.ping(IP_B, { dataLen: 56 });
  p.timers.advance(20);
  // ARP request and reply, then echo request and reply: four crossings of 3 ms.
  assert.deepEqual(await first, { ok: true, seq: 0, rttMs: 12, ttl: 64, dataLen: 56 });
  const second = p.a.ping(IP_B, { dataLen: 0 });
  p.timers.advance(20);
  assert.deepEqual(await second, { ok: true, seq: 1, rttMs: 6, ttl: 64, dataLen: 0 });
  assert.equal(p.b.counters.get("icmpEchoRequests"), 2);
  assert.equal(p.a.counters.get("icmpEchoReplies"), 2);
});

test("an echo reply is byte-exact and its checksums verify by an independent sum", () => {
  const p = pair();
  const data = Uint8Array.from({ length: 33 }, (_, i) => 255 - i); // odd length
  const req = echoRequestFrame(data);
  p.b.receive(req, 0, req.length, 0);
  const reply = p.devB.sent.at(-1)!.bytes;
  assert.equal(reply.length, req.length);
  // Ethernet: back to the requester's MAC, from ours.
  assert.equal(toHex(reply.subarray(0, 12)), `${toHex(req.subarray(6, 12))}020000000002`);
  const ip = reply.subarray(ETH_HLEN, ETH_HLEN + 20);
  assert.equal(ip[0], 0x45);
  assert.equal(ip[8], 64);
  assert.equal(ip[9], IPPROTO_ICMP);
  assert.equal(toHex(ip.subarray(12, 16)), "0a000002");
  assert.equal(toHex(ip.subarray(16, 20)), "0a000007");
  assert.equal(referenceChecksum(ip), 0, "IPv4 header checksum");
  const icmp = reply.subarray(ETH_HLEN + 20);
  assert.equal(icmp[0], ICMP_ECHOREPLY);
  assert.equal(icmp[1], 0);
  assert.equal(toHex(icmp.subarray(4)), toHex(req.subarray(ETH_HLEN + 20 + 4)), "id, sequence, data echoed");
  const zeroed = icmp.slice();
  zeroed[2] = 0;
  zeroed[3] = 0;
  assert.equal((icmp[2] << 8) | icmp[3], referenceChecksum(zeroed));
});

test("an echo request with a bad ICMP checksum is dropped and counted", () => {
  const p = pair();
  const req = echoRequestFrame();
  req[req.length - 1] ^= 0x01;
  const before = p.devB.sent.length;
  p.b.receive(req, 0, req.length, 0);
  assert.equal(p.devB.sent.length, before);
  assert.equal(p.b.counters.get("rxDropBadChecksum"), 1);
});

test("an echo request to a broadcast address is not answered", () => {
  const p = pair();
  for (const daddr of [0xffff_ffff, 0x0a00_00ff]) {
    const req = echoRequestFrame(undefined, { daddr, dst: 0xffff_ffff_ffff });
    p.b.receive(req, 0, req.length, 0);
  }
  assert.equal(p.b.counters.get("rxDropNotForUs"), 2);
  assert.equal(p.b.counters.get("icmpEchoRequests"), 0);
});

test("replies with another identifier, sequence, source or data do not match; the ping times out", async () => {
  const p = pair({ a: { pingId: 0x77 } });
  p.cut.b = true; // B's real reply never comes
  p.a.receive(p.devA.sent[0].bytes, 0, 0, 0); // nothing: a 0-byte frame
  // Teach A where B is, so the echo goes out at once.
  const r = p.a.ping(IP_B, { dataLen: 4, timeoutMs: 500 });
  const data = Uint8Array.of(0, 1, 2, 3); // sequence 0's pattern
  const fake = (id: number, seq: number, saddr: number, d: Uint8Array) =>
    ipv4Frame(IPPROTO_ICMP, icmpMessage(ICMP_ECHOREPLY, id, seq, d), {
      saddr,
      daddr: IP_A,
      dst: 0x0200_0000_0001,
      src: MAC_B,
    });
  for (const f of [
    fake(0x78, 0, IP_B, data),
    fake(0x77, 1, IP_B, data),
    fake(0x77, 0, IP_C, data),
    fake(0x77, 0, IP_B, Uint8Array.of(0, 1, 2, 9)),
    fake(0x77, 0, IP_B, Uint8Array.of(0, 1, 2)),
  ]) {
    p.a.receive(f, 0, f.length, 0);
  }
  assert.equal(p.a.counters.get("icmpEchoRepliesUnmatched"), 5);
  p.timers.advance(500);
  assert.deepEqual(await r, { ok: false, seq: 0, reason: "timeout" });
  assert.equal(p.a.counters.get("pingTimeouts"), 1);
  // The right reply, now late, matches nothing either.
  const late = fake(0x77, 0, IP_B, data);
  p.a.receive(late, 0, late.length, 0);
  assert.equal(p.a.counters.get("icmpEchoRepliesUnmatched"), 6);
});

test("a duplicated reply settles the ping once and counts the copy unmatched", async () => {
  const p = pair();
  let dup: Uint8Array | undefined;
  const deliver = p.devB.onSend!;
  p.devB.onSend = (f) => {
    deliver(f);
    if (f.bytes[ETH_HLEN + 9] === IPPROTO_ICMP) {
      dup = f.bytes;
      deliver(f);
    }
  };
  const r = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await r).ok, true);
  assert.ok(dup !== undefined);
  assert.equal(p.a.counters.get("icmpEchoReplies"), 2);
  assert.equal(p.a.counters.get("icmpEchoRepliesUnmatched"), 1);
});

test("ping refuses data that would not fit the MTU", async () => {
  const p = pair();
  assert.deepEqual(await p.a.ping(IP_B, { dataLen: 1500 - 28 + 1 }), {
    ok: false,
    seq: 0,
    reason: "EMSGSIZE",
  });
  assert.equal((await p.a.ping(IP_A)).ok, false, "no loopback");
  void MAC_C;
});

test("a host's gratuitous ARP answers our pending question early (RFC 826 merge)", async () => {
  const p = pair({ latencyMs: 3 });
  // Both announced at 0, arriving at 3; A's question for B goes out at 0 too.
  const r = p.a.ping(IP_B);
  p.timers.advance(20);
  const res = await r;
  assert.equal(res.ok && res.rttMs, 9);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { ETH_HLEN } from "../../src/wire/net/ethernet.js";
import { IPPROTO_TCP } from "../../src/wire/net/ipv4.js";
import { echoRequestFrame, ipv4Frame } from "./frames.js";
import { pair } from "./harness.js";

function replies(p: ReturnType<typeof pair>, frame: Uint8Array, flags = 0): Uint8Array[] {
  const before = p.devB.sent.length;
  p.b.receive(frame, 0, frame.length, flags);
  return p.devB.sent.slice(before).map((f) => f.bytes);
}

test("fragments are dropped and counted: more-fragments set, or an offset", () => {
  const p = pair();
  assert.equal(replies(p, echoRequestFrame(undefined, { moreFrags: true })).length, 0);
  assert.equal(replies(p, echoRequestFrame(undefined, { fragOffset: 185 })).length, 0);
  assert.equal(p.b.counters.get("rxDropFragment"), 2);
  assert.equal(replies(p, echoRequestFrame()).length, 1, "the same request unfragmented is answered");
});

test("a bad IPv4 header checksum is dropped and counted, whatever the L4 flags say", () => {
  const p = pair();
  const f = echoRequestFrame();
  f[ETH_HLEN + 10] ^= 0x80;
  assert.equal(replies(p, f, 3).length, 0);
  assert.equal(p.b.counters.get("rxDropBadChecksum"), 1);
});

test("TTL 0 is dropped and counted, TTL 1 is answered (RFC 1122 3.2.1.7)", () => {
  const p = pair();
  assert.equal(replies(p, echoRequestFrame(undefined, { ttl: 0 })).length, 0);
  assert.equal(p.b.counters.get("rxDropTtl"), 1);
  assert.equal(replies(p, echoRequestFrame(undefined, { ttl: 1 })).length, 1);
});

test("options are skipped and the reply carries none", () => {
  const p = pair();
  const options = Uint8Array.of(0x01, 0x01, 0x01, 0x00, 0x07, 0x07, 0x04, 0x00); // NOPs, record route
  const req = echoRequestFrame(undefined, { options });
  const [reply] = replies(p, req);
  assert.equal(reply[ETH_HLEN], 0x45);
  assert.equal(reply.length, req.length - options.length);
  assert.deepEqual(reply.subarray(ETH_HLEN + 24), req.subarray(ETH_HLEN + 28 + 4));
});

test("Ethernet padding after the total length is ignored", () => {
  const p = pair();
  const req = echoRequestFrame(Uint8Array.of(1, 2), { pad: 20 });
  req.fill(0xee, req.length - 20);
  const [reply] = replies(p, req);
  assert.equal(reply.length, req.length - 20);
});

test("only our address and broadcasts are accepted; martian sources are refused", () => {
  const p = pair();
  assert.equal(replies(p, echoRequestFrame(undefined, { daddr: 0x0a00_0003 })).length, 0);
  assert.equal(p.b.counters.get("rxDropNotForUs"), 1);
  assert.equal(replies(p, echoRequestFrame(undefined, { dst: 0x0200_0000_0009 })).length, 0);
  assert.equal(p.b.counters.get("rxDropNotForUs"), 2, "another host's MAC");
  for (const saddr of [0xe000_0001, 0xffff_ffff, 0x0a00_00ff, 0x0a00_0002]) {
    assert.equal(replies(p, echoRequestFrame(undefined, { saddr })).length, 0);
  }
  assert.equal(p.b.counters.get("rxDropMalformed"), 4);
});

test("truncated and inconsistent headers are malformed, never thrown on", () => {
  const p = pair();
  const good = echoRequestFrame();
  const cases: Uint8Array[] = [];
  cases.push(good.slice(0, ETH_HLEN + 19)); // shorter than a header
  const v6 = good.slice();
  v6[ETH_HLEN] = 0x65;
  cases.push(v6);
  const ihl4 = good.slice();
  ihl4[ETH_HLEN] = 0x44;
  cases.push(ihl4);
  const ihl15 = good.slice(0, ETH_HLEN + 40);
  ihl15[ETH_HLEN] = 0x4f;
  cases.push(ihl15);
  const long = good.slice();
  long[ETH_HLEN + 2] = 0x7f; // total length past the frame
  cases.push(long);
  for (const f of cases) assert.equal(replies(p, f).length, 0);
  assert.equal(p.b.counters.get("rxDropMalformed"), cases.length);
});

test("an unknown protocol is counted", () => {
  const p = pair();
  assert.equal(replies(p, ipv4Frame(IPPROTO_TCP, new Uint8Array(20))).length, 0);
  assert.equal(p.b.counters.get("rxDropUnknownProto"), 1);
});

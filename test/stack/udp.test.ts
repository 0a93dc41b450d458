import assert from "node:assert/strict";
import { test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import {
  RX_CSUM_BLANK,
  RX_DATA_VALIDATED,
  TX_CSUM_BLANK,
  TX_DATA_VALIDATED,
} from "../../src/stack/device.js";
import { SEND_EMSGSIZE, SEND_ENOBUFS, SEND_OK } from "../../src/stack/send-status.js";
import { ETH_HLEN } from "../../src/wire/net/ethernet.js";
import { IPPROTO_UDP } from "../../src/wire/net/ipv4.js";
import { UDP_CHECK } from "../../src/wire/net/udp.js";
import { pseudoHeaderBytes, referenceChecksum } from "../wire/net/fixtures.js";
import { ipv4Frame, udpFrame, udpMessage } from "./frames.js";
import { completeUdpChecksum, IP_A, IP_B, pair } from "./harness.js";

const UDP_AT = ETH_HLEN + 20;

/** The UDP checksum of `frame` as an independent computation would set it. */
function referenceUdpChecksum(frame: Uint8Array, saddr: number, daddr: number): number {
  const udp = frame.slice(UDP_AT);
  udp[UDP_CHECK] = 0;
  udp[UDP_CHECK + 1] = 0;
  const c = referenceChecksum([...pseudoHeaderBytes(saddr, daddr, IPPROTO_UDP, udp.length), ...udp]);
  return c === 0 ? 0xffff : c;
}

function field(frame: Uint8Array): number {
  return (frame[UDP_AT + UDP_CHECK] << 8) | frame[UDP_AT + UDP_CHECK + 1];
}

function echoOnce(p: ReturnType<typeof pair>, data: Uint8Array) {
  const got: { saddr: number; sport: number; bytes: number[] }[] = [];
  const sock = p.a.bindUdp(0, (saddr, sport, buf, off, len) =>
    got.push({ saddr, sport, bytes: [...buf.subarray(off, off + len)] }),
  );
  assert.equal(sock.sendTo(IP_B, 7, data), SEND_OK);
  p.timers.advance(0);
  sock.close();
  return got;
}

test("UDP echo on port 7 returns each datagram to its sender", () => {
  const p = pair();
  p.b.startUdpEcho();
  const got = echoOnce(p, Uint8Array.of(1, 2, 3, 4, 5));
  assert.deepEqual(got, [{ saddr: IP_B, sport: 7, bytes: [1, 2, 3, 4, 5] }]);
  assert.equal(p.b.counters.get("udpDatagramsReceived"), 1);
  assert.equal(p.b.counters.get("udpDatagramsSent"), 1);
});

test("without offload the checksum is filled, byte for byte, and the flags are 0", () => {
  const p = pair();
  p.b.startUdpEcho();
  echoOnce(p, Uint8Array.of(9, 8, 7));
  const sent = p.devA.sent.filter((f) => f.bytes[ETH_HLEN + 9] === IPPROTO_UDP);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].flags, 0);
  assert.equal(field(sent[0].bytes), referenceUdpChecksum(sent[0].bytes, IP_A, IP_B));
});

test("with offload UDP leaves a pseudo-header sum, flags csum_blank|data_validated, and the peer accepts it", () => {
  const p = pair({ offloadA: true });
  p.b.startUdpEcho();
  const got = echoOnce(p, Uint8Array.of(1, 2, 3));
  assert.equal(got.length, 1);
  const f = p.devA.sent.filter((x) => x.bytes[ETH_HLEN + 9] === IPPROTO_UDP)[0];
  assert.equal(f.flags, TX_CSUM_BLANK | TX_DATA_VALIDATED);
  // Completed as an offloading NIC would, it is the right checksum.
  const done = f.bytes.slice();
  completeUdpChecksum(done);
  assert.equal(field(done), referenceUdpChecksum(f.bytes, IP_A, IP_B));
  assert.notEqual(field(f.bytes), field(done), "left blank, not filled");
  // ICMP is never left blank (netback would drop it).
  const icmp = p.devA.sent.filter((x) => x.bytes[ETH_HLEN + 9] === 1);
  assert.ok(icmp.every((x) => x.flags === 0));
});

test("a blank checksum completed on the way (no flags) verifies at the receiver", () => {
  const p = pair({ offloadA: true, completeChecksums: true });
  p.b.startUdpEcho();
  assert.equal(echoOnce(p, Uint8Array.of(4, 5, 6, 7)).length, 1);
  assert.equal(p.b.counters.get("rxDropBadChecksum"), 0);
});

test("receive honours RX_CSUM_BLANK and RX_DATA_VALIDATED and otherwise verifies", () => {
  const p = pair();
  const got: number[] = [];
  p.b.bindUdp(9, (_s, _p, buf, off) => got.push(buf[off]));
  const frame = (v: number) => {
    const f = udpFrame(1000, 9, Uint8Array.of(v));
    f[UDP_AT + UDP_CHECK] ^= 0x5a; // wrong, but not 0
    return f;
  };
  for (const [v, flags] of [
    [1, 0],
    [2, RX_CSUM_BLANK],
    [3, RX_DATA_VALIDATED],
    [4, RX_CSUM_BLANK | RX_DATA_VALIDATED],
    [5, 0x04], // NETRXF_more_data: says nothing about checksums
  ]) {
    const f = frame(v);
    p.b.receive(f, 0, f.length, flags);
  }
  assert.deepEqual(got, [2, 3, 4]);
  assert.equal(p.b.counters.get("rxDropBadChecksum"), 2);
  const none = ipv4Frame(IPPROTO_UDP, udpMessage(1000, 9, Uint8Array.of(6), undefined, undefined, true));
  p.b.receive(none, 0, none.length, 0);
  assert.deepEqual(got, [2, 3, 4, 6], "checksum 0: the sender computed none");
});

test("unbound ports, bad lengths, ports in use and oversize sends", () => {
  const p = pair();
  const f = udpFrame(1000, 4444, Uint8Array.of(1));
  p.b.receive(f, 0, f.length, 0);
  assert.equal(p.b.counters.get("rxDropNoPort"), 1);
  p.b.bindUdp(9, () => assert.fail("must not deliver"));
  const long = udpFrame(1000, 9, Uint8Array.of(1, 2));
  long[UDP_AT + 5] = 11; // 11 > the 10 bytes the IPv4 payload holds
  const short = udpFrame(1000, 9, Uint8Array.of(1, 2));
  short[UDP_AT + 5] = 7;
  for (const x of [long, short]) p.b.receive(x, 0, x.length, RX_DATA_VALIDATED);
  assert.equal(p.b.counters.get("rxDropMalformed"), 2);
  assert.throws(
    () => p.b.bindUdp(9, () => {}),
    (e) => e instanceof PvnetError && e.code === "EADDRINUSE",
  );
  const s = p.a.bindUdp(0, () => {});
  assert.ok(s.port >= 49152);
  assert.equal(s.sendTo(IP_B, 9, new Uint8Array(1473)), SEND_EMSGSIZE);
  assert.equal(s.sendTo(IP_B, 9, new Uint8Array(1472)), SEND_OK);
});

test("a full ring queues txQueueLen frames, sends them in order when writable, and counts the rest", () => {
  const p = pair({ a: { txQueueLen: 3 } });
  const got: number[] = [];
  p.b.bindUdp(9, (_s, _p, buf, off) => got.push(buf[off]));
  const s = p.a.bindUdp(0, () => {});
  s.sendTo(IP_B, 9, Uint8Array.of(100));
  p.timers.advance(0); // ARP resolved, first datagram through
  p.devA.full = true;
  const statuses = [0, 1, 2, 3, 4].map((i) => s.sendTo(IP_B, 9, Uint8Array.of(i)));
  assert.deepEqual(statuses, [SEND_OK, SEND_OK, SEND_OK, SEND_ENOBUFS, SEND_ENOBUFS]);
  assert.equal(p.a.counters.get("txDropQueueFull"), 2);
  assert.equal(p.a.counters.get("txQueued"), 3);
  p.a.onWritable(); // still full: nothing moves
  assert.equal(p.a.txQueued, 3);
  p.devA.full = false;
  // Queued frames keep their place: a new send waits behind them.
  assert.equal(s.sendTo(IP_B, 9, Uint8Array.of(5)), SEND_ENOBUFS);
  p.a.onWritable();
  p.timers.advance(0);
  assert.deepEqual(got, [100, 0, 1, 2]);
  assert.equal(p.a.counters.get("txQueued"), 0);
  const sent = p.a.counters.get("txFrames");
  assert.equal(sent, p.devA.sent.length);
});

test("down() drops queued and ARP-pending frames as txDropDown, fails pings, refuses frames", async () => {
  const p = pair();
  const s = p.a.bindUdp(0, () => {});
  p.cut.b = true;
  s.sendTo(IP_B, 9, Uint8Array.of(1));
  const r = p.a.ping(IP_B);
  p.a.down();
  assert.equal(p.a.counters.get("txDropDown"), 2);
  assert.deepEqual(await r, { ok: false, seq: 0, reason: "down" });
  const f = udpFrame(1, 9, Uint8Array.of(1), { daddr: IP_A, dst: 0x0200_0000_0001 });
  p.a.receive(f, 0, f.length, 0);
  assert.equal(p.a.counters.get("rxDropDown"), 1);
  p.timers.advance(0); // frames already on the wire land
  assert.equal(p.timers.active, 1, "A's tick stopped: only B's is left");
});

/**
 * The stack's in-place transmit path (tx-frame.ts): over a device that lends TX buffers the
 * stack builds every IPv4 frame in the lent buffer, and what leaves is byte for byte what
 * the copying path sends, whatever happens around it (ARP waits, a full ring, a refused
 * commit, no buffer to lend). Lent buffers come pre-filled with 0xa5, so a field the
 * in-place path forgets to write shows as a difference.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ManualTimers } from "../../src/hv/timer.js";
import { NetStack } from "../../src/stack/iface.js";
import { ARPOP_REPLY } from "../../src/wire/net/arp.js";
import { countGcs } from "../wire/net/fixtures.js";
import { arpFrame, arpRequestFrom, echoRequestFrame, IP_C, MAC_C, toHex, udpFrame } from "./frames.js";
import { IP_A, IP_B, MAC_B, pair, TestDevice, timersClock } from "./harness.js";

const IP_D = 0x0a00_0009; // never answers unless the test says so
const MAC_D = 0x0200_0000_0009;

test("ping and UDP echo work end to end with frames built in lent buffers", async () => {
  const p = pair({ lends: true, latencyMs: 1 });
  p.timers.advance(10);
  p.b.startUdpEcho();
  // The first echo waits for ARP (parked, then sent by copy); the rest go out in place.
  const first = p.a.ping(IP_B, { dataLen: 56 });
  p.timers.advance(20);
  assert.equal((await first).ok, true);
  const a0 = p.devA.committed;
  const b0 = p.devB.committed;
  const ab0 = p.devA.aborted + p.devB.aborted;
  const r = p.a.ping(IP_B, { dataLen: 56 });
  p.timers.advance(20);
  assert.equal((await r).ok, true);
  const got: number[][] = [];
  const sock = p.a.bindUdp(0, (_s, _p, buf, off, len) => got.push([...buf.subarray(off, off + len)]));
  const data = Uint8Array.from({ length: 1400 }, (_, i) => (i * 13) & 255);
  assert.equal(sock.sendTo(IP_B, 7, data), 0);
  p.timers.advance(10);
  assert.deepEqual(got, [[...data]]);
  // Echo request and UDP from A, echo reply and UDP echo from B: all built in place.
  assert.equal(p.devA.committed - a0, 2);
  assert.equal(p.devB.committed - b0, 2);
  assert.equal(p.devA.aborted + p.devB.aborted, ab0);
  assert.equal(p.a.counters.get("txFrames"), p.devA.sent.length);
  assert.equal(p.b.counters.get("txFrames"), p.devB.sent.length);
});

test("a frame waiting for ARP is parked from the lent buffer, the buffer given back, and sent on resolution", () => {
  const p = pair({ lends: true });
  const sock = p.a.bindUdp(5000, () => {});
  p.cut.a = true; // nobody hears A's request yet
  assert.equal(sock.sendTo(IP_D, 9, Uint8Array.of(1, 2, 3)), 0);
  assert.equal(p.devA.aborted, 1, "the lend was taken back");
  assert.equal(p.devA.lending, false);
  assert.equal(p.a.arpPending, 1);
  const reply = arpFrame(ARPOP_REPLY, MAC_D, IP_D, 0x0200_0000_0001, IP_A, 0x0200_0000_0001);
  p.a.receive(reply, 0, reply.length, 0);
  assert.equal(p.a.arpPending, 0);
  const last = p.devA.sent.at(-1)!.bytes;
  assert.equal(last.length, 14 + 20 + 8 + 3);
  assert.deepEqual([...last.subarray(0, 6)], [2, 0, 0, 0, 0, 9], "sent to D's MAC");
});

test("a lend the device refuses at commit falls back to the queue, in order", () => {
  const p = pair({ lends: true });
  p.timers.advance(1);
  const sock = p.a.bindUdp(5000, () => {});
  assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(1)), 0); // resolves B (ARP) and waits
  p.timers.advance(1);
  const before = p.devA.sent.length;
  p.devA.refuseCommit = true;
  p.devA.full = true;
  assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(2)), 0);
  assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(3)), 0);
  assert.equal(p.a.txQueued, 2);
  p.devA.full = false;
  p.devA.refuseCommit = false;
  p.a.onWritable();
  assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(4)), 0);
  const payloads = p.devA.sent.slice(before).map((f) => f.bytes[42]);
  assert.deepEqual(payloads, [2, 3, 4]);
  assert.equal(p.devA.lending, false);
});

interface Op {
  k: "udp" | "echo" | "udpEcho" | "ping" | "full" | "refuse" | "noLend" | "writable" | "resolveD" | "tick";
  dst: number;
  len: number;
  on: boolean;
}

const DSTS = [IP_C, IP_C, IP_D, 0x0a00_00ff, 0xffff_ffff, 0xe000_0005, IP_B];

function run(ops: readonly Op[], dev: TestDevice): { sent: string[]; status: number[]; counters: unknown } {
  const timers = new ManualTimers();
  const s = new NetStack(dev, { ip: IP_B, clock: timersClock(timers), timers });
  s.up();
  s.startUdpEcho();
  const learn = arpRequestFrom(MAC_C, IP_C, IP_B);
  s.receive(learn, 0, learn.length, 0);
  const sock = s.bindUdp(6000, () => {});
  const status: number[] = [];
  const payload = Uint8Array.from({ length: 1472 }, (_, i) => (i * 7 + 1) & 255);
  for (const o of ops) {
    switch (o.k) {
      case "udp":
        status.push(sock.sendTo(o.dst, 9, payload, 1, Math.min(o.len, 1471)));
        break;
      case "echo": {
        const f = echoRequestFrame(payload.subarray(0, Math.min(o.len, 1472 - 8)));
        s.receive(f, 0, f.length, 0);
        break;
      }
      case "udpEcho": {
        const f = udpFrame(4444, 7, payload.subarray(3, 3 + Math.min(o.len, 1400)));
        s.receive(f, 0, f.length, 0);
        break;
      }
      case "ping":
        void s.ping(o.dst === IP_B ? IP_C : o.dst, { dataLen: o.len % 200 });
        break;
      case "full":
        dev.full = o.on;
        break;
      case "refuse":
        dev.refuseCommit = o.on && dev.txMem !== undefined;
        break;
      case "noLend":
        dev.noLend = o.on;
        break;
      case "writable":
        s.onWritable();
        break;
      case "resolveD": {
        const r = arpFrame(ARPOP_REPLY, MAC_D, IP_D, MAC_B, IP_B, MAC_B);
        s.receive(r, 0, r.length, 0);
        break;
      }
      case "tick":
        timers.advance(o.len % 3000);
        break;
    }
  }
  dev.full = false;
  dev.refuseCommit = false;
  s.onWritable();
  s.down();
  return {
    sent: dev.sent.map((f) => `${f.flags}:${toHex(f.bytes)}`),
    status,
    counters: s.counters.snapshot(),
  };
}

test("property: frames built in lent buffers are byte for byte those of the copying path", () => {
  const op = fc.record({
    k: fc.constantFrom<Op["k"]>(
      "udp",
      "udp",
      "udp",
      "echo",
      "udpEcho",
      "ping",
      "full",
      "refuse",
      "noLend",
      "writable",
      "resolveD",
      "tick",
    ),
    dst: fc.constantFrom(...DSTS),
    len: fc.integer({ min: 0, max: 4000 }),
    on: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 80 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      (ops, lendOffset, offload) => {
        const plain = run(ops, new TestDevice(MAC_B, { offloadsChecksum: offload }));
        const lendDev = new TestDevice(MAC_B, { offloadsChecksum: offload, lends: true, lendOffset });
        const lent = run(ops, lendDev);
        assert.deepEqual(lent.status, plain.status);
        assert.deepEqual(lent.sent, plain.sent);
        assert.deepEqual(lent.counters, plain.counters);
        assert.equal(lendDev.lending, false, "no lend left open");
      },
    ),
    { numRuns: 150 },
  );
});

test("ICMP and UDP echo built in lent buffers allocate nothing per packet", async () => {
  const dev = new TestDevice(MAC_B, { lends: true, lendOffset: 0 });
  dev.record = false;
  const timers = new ManualTimers();
  const s = new NetStack(dev, { ip: IP_B, clock: timersClock(timers), timers });
  s.up();
  s.startUdpEcho();
  const learn = arpRequestFrom(MAC_C, IP_C, IP_B);
  s.receive(learn, 0, learn.length, 0);
  const echo = echoRequestFrame(new Uint8Array(56));
  const udp = udpFrame(5555, 7, new Uint8Array(64));
  const big = udpFrame(5555, 7, new Uint8Array(1400));
  const before = dev.committed;
  const gcs = await countGcs((i) => {
    s.receive(echo, 0, echo.length, 0);
    s.receive(i & 1 ? big : udp, 0, i & 1 ? big.length : udp.length, 0);
  }, 100_000);
  assert.equal(dev.committed - before, 2 * 200_000, "every reply went out in place");
  assert.ok(gcs <= 1, `${2 * 100_000} echoes caused ${gcs} garbage collections`);
});

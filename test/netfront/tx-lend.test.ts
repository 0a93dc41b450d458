/**
 * netfront's zero-copy TX API (tx.ts lend/commit/abort, the device's txBuffer/txCommit/
 * txAbort): frames built in lent pool buffers cross to the backend intact, a lend holds its
 * ring slot, refused lends get a writable call, a queue closed or broken mid-lend ends the
 * lend without a throw, every buffer comes back, and the path allocates nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { ManualTimers } from "../../src/hv/timer.js";
import { flowHash } from "../../src/netfront/flow-hash.js";
import { NetStack } from "../../src/stack/iface.js";
import { ARPOP_REPLY } from "../../src/wire/net/arp.js";
import {
  NETRXF_csum_blank,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../../src/wire/xen/netif.js";
import { arpFrame } from "../stack/frames.js";
import { IP_A, IP_B, MAC_B, timersClock } from "../stack/harness.js";
import { countGcs } from "../wire/net/fixtures.js";
import { checkFrame, fillFrame, udpFrame } from "./frames.js";
import { Harness } from "./harness.js";

function receiver(h: Harness): { seq: number; len: number; flags: number }[] {
  const got: { seq: number; len: number; flags: number }[] = [];
  h.dev.onReceive((b, off, len, flags) => got.push({ seq: checkFrame(b, off, len), len, flags }));
  return got;
}

/** Lends, fills the frame `seq` of `len` bytes in place and commits it; false when nothing was lent. */
function sendInPlace(h: Harness, len: number, seq: number, flags = 0): boolean {
  const at = h.dev.txBuffer(len);
  if (at < 0) return false;
  fillFrame(h.dev.txMem.u8, at, len, seq);
  assert.equal(h.dev.txCommit(len, flags), true);
  return true;
}

test("frames built in lent buffers arrive intact, with their checksum flags, and are counted", () => {
  const h = new Harness();
  const got = receiver(h);
  const sizes = [14, 18, 60, 64, 100, 1514, 4000, 4095, PAGE_SIZE];
  sizes.forEach((len, i) => {
    assert.ok(sendInPlace(h, len, i, i === 3 ? NETTXF_csum_blank | NETTXF_data_validated : 0));
  });
  h.pump();
  assert.deepEqual(
    got.filter((g) => g.len >= 18).map((g) => [g.seq, g.len]),
    sizes.map((len, i) => [i, len]).filter(([, len]) => len >= 18),
  );
  assert.equal(got.length, sizes.length);
  assert.ok((got[3].flags & NETRXF_csum_blank) !== 0, "csum_blank reached the ring");
  const c = h.dev.counters(0)?.snapshot();
  assert.equal(c?.tx_packets, sizes.length);
  assert.equal(
    c?.tx_bytes,
    sizes.reduce((a, b) => a + b, 0),
  );
  assert.deepEqual(h.fatals, []);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0, "every grant ended");
});

test("one lend at a time: asking again returns the same buffer; commit or abort without a lend does nothing", () => {
  const h = new Harness();
  const got = receiver(h);
  assert.equal(h.dev.txCommit(60, 0), false, "nothing lent");
  h.dev.txAbort();
  const a = h.dev.txBuffer(1500);
  assert.ok(a >= 0 && a % PAGE_SIZE === 0, "a whole pool page");
  assert.equal(h.dev.txBuffer(1500), a);
  assert.equal(h.dev.txBuffer(100), a, "a smaller frame fits the page lent");
  h.dev.txAbort();
  assert.equal(h.dev.txCommit(60, 0), false, "the abort ended the lend");
  assert.equal(h.dev.txBuffer(PAGE_SIZE + 1), -1, "a lend is one page");
  assert.equal(h.dev.txBuffer(-1), -1);
  // A length the ring cannot carry is dropped and counted; the buffer comes back.
  h.dev.txBuffer(64);
  assert.equal(h.dev.txCommit(13, 0), true);
  assert.equal(h.dev.counters(0)?.get("tx_dropped"), 1);
  h.pump();
  assert.equal(got.length, 0);
  assert.deepEqual(h.fatals, []);
});

test("lent and aborted buffers go back to the pool: many more lends than buffers", () => {
  const h = new Harness({ device: { txBuffers: 8 } });
  const got = receiver(h);
  for (let i = 0; i < 1000; i++) {
    assert.ok(h.dev.txBuffer(64) >= 0, `abort ${i} returned its buffer`);
    h.dev.txAbort();
  }
  let seq = 0;
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < 8; k++) assert.ok(sendInPlace(h, 64, seq++), `round ${round} frame ${k}`);
    h.pump();
  }
  assert.equal(got.length, seq);
  assert.ok(got.every((g, i) => g.seq === i));
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

test("a full ring refuses the lend, calls writable once room returns, and the next lend succeeds", () => {
  const h = new Harness({ device: { txBuffers: 16 } });
  const got = receiver(h);
  let writable = 0;
  h.dev.onWritable(() => writable++);
  let seq = 0;
  // No pump: the backend answers nothing, so the pool of 16 pages and 16 small buffers
  // (200-byte frames fit those) runs dry.
  while (sendInPlace(h, 200, seq)) seq++;
  assert.equal(seq, 16 + 16);
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 1);
  assert.equal(writable, 0, "never called from inside txBuffer");
  h.pump();
  assert.equal(writable, 1);
  assert.ok(sendInPlace(h, 200, seq++));
  h.pump();
  assert.equal(got.length, 33);
  assert.ok(got.every((g, i) => g.seq === i));
});

test("a refused lend and the copying transmit of the same frame after it count the full ring once", () => {
  const h = new Harness({ device: { txBuffers: 16 } });
  receiver(h);
  let seq = 0;
  while (sendInPlace(h, 200, seq)) seq++;
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 1, "the refused lend");
  // The stack's fallback after a refused lend: the same frame offered by copy, refused too.
  const buf = new Uint8Array(200);
  fillFrame(buf, 0, 200, seq);
  assert.equal(h.dev.transmit(buf, 200, 0), false);
  assert.equal(h.dev.txBuffer(200), -1, "a sender retrying meets the same full ring");
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 1, "one full ring, counted once");
  h.pump();
  // Room came back and a frame was taken: the ring filling again is a new event.
  while (sendInPlace(h, 200, seq)) seq++;
  assert.equal(h.dev.transmit(buf, 200, 0), false);
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 2);
});

test("a stack over netfront counts a full ring once although its first refused frame is offered twice", () => {
  const h = new Harness({ device: { txBuffers: 16 } });
  const timers = new ManualTimers();
  const stack = new NetStack(h.dev, { ip: IP_A, clock: timersClock(timers), timers });
  h.dev.onReceive((b, off, len, flags) => stack.receive(b, off, len, flags));
  h.dev.onWritable(() => stack.onWritable());
  stack.up();
  const sock = stack.bindUdp(5000, () => {});
  // Resolve B first: the frame waits for ARP, B's reply sends it.
  assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(0)), 0);
  const reply = arpFrame(ARPOP_REPLY, MAC_B, IP_B, h.dev.mac, IP_A, h.dev.mac);
  stack.receive(reply, 0, reply.length, 0);
  h.pump();
  assert.equal(stack.arpPending, 0);
  const sent0 = h.dev.counters(0)?.get("tx_packets") ?? 0;
  // No pump: the pool runs dry (16 pages and 16 small buffers: these frames are small, and
  // the ARP exchange's frame went back). The first frame refused is offered twice (its
  // lend, then its copying transmit) before it waits in the stack's queue; later ones go
  // straight there.
  for (let i = 1; i <= 40; i++) assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(i)), 0);
  assert.equal((h.dev.counters(0)?.get("tx_packets") ?? 0) - sent0, 32);
  assert.equal(stack.txQueued, 8);
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 1);
  h.pump();
  assert.equal(stack.txQueued, 0, "the queue drained once room came back");
  assert.equal((h.dev.counters(0)?.get("tx_packets") ?? 0) - sent0, 40);
  assert.deepEqual(h.fatals, []);
});

test("a lend holds its ring slot: copying sends meanwhile cannot take it", () => {
  // Ring order 0: 256 TX slots. GSO frames take two slots (the extra) but one buffer, so
  // they fill the ring before the pool.
  const h = new Harness({ device: { txBuffers: 256 } });
  const got = receiver(h);
  const at = h.dev.txBuffer(100);
  assert.ok(at >= 0);
  const buf = new Uint8Array(100);
  let sent = 0;
  for (; sent < 300; sent++) {
    fillFrame(buf, 0, 100, 1000 + sent);
    if (!h.dev.transmitGso(buf, 100, 0, XEN_NETIF_GSO_TYPE_TCPV4, 1400)) break;
  }
  assert.equal(sent, 127, "the ring's last slot kept for the lend");
  fillFrame(h.dev.txMem.u8, at, 100, 5000);
  assert.equal(h.dev.txCommit(100, 0), true);
  h.pump();
  assert.equal(got.length, 128);
  assert.equal(got[127].seq, 5000);
  assert.deepEqual(h.fatals, []);
});

test("a queue closed mid-lend (disconnect): commit is refused, nothing throws, every grant ends", () => {
  const h = new Harness();
  const got = receiver(h);
  assert.ok(sendInPlace(h, 64, 0));
  const at = h.dev.txBuffer(64);
  assert.ok(at >= 0);
  h.dev.carrierOff();
  assert.equal(h.queues[0].close(), 0);
  fillFrame(h.dev.txMem.u8, at, 64, 1);
  assert.equal(h.dev.txCommit(64, 0), false);
  h.dev.txAbort();
  assert.equal(h.dev.txBuffer(64), -1, "nothing to lend while disconnected");
  h.pump();
  assert.ok(got.length <= 1);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

test("a backend breaking the protocol mid-lend stops the queue: commit refused, no throw", () => {
  const h = new Harness({ hostile: "txBadId", hostileAfter: 2 });
  receiver(h);
  for (let i = 0; i < 4; i++) assert.ok(sendInPlace(h, 64, i));
  const at = h.dev.txBuffer(64);
  assert.ok(at >= 0);
  h.pump();
  assert.equal(h.fatals.length, 1, "the backend's bad response was seen");
  fillFrame(h.dev.txMem.u8, at, 64, 4);
  assert.equal(h.dev.txCommit(64, 0), false);
  h.dev.txAbort();
  assert.equal(h.dev.txBuffer(64), -1, "a stopped queue lends nothing");
});

test("multi-queue: a lent frame leaves on its flow's queue, copied there when lent from another", () => {
  const h = new Harness({ queues: 4 });
  let received = 0;
  h.dev.onReceive(() => received++);
  const used = new Set<number>();
  for (let f = 0; f < 32; f++) {
    const frame = udpFrame(200, 0x0a000001, 0x0a000002 + (f & 3), 1000 + f, 7);
    const before = [0, 1, 2, 3].map((q) => h.dev.counters(q)?.get("tx_packets") ?? 0);
    for (let i = 0; i < 10; i++) {
      const at = h.dev.txBuffer(200);
      assert.ok(at >= 0);
      h.dev.txMem.u8.set(frame, at);
      assert.ok(h.dev.txCommit(200, 0));
    }
    h.pump();
    const diff = [0, 1, 2, 3].map((q) => (h.dev.counters(q)?.get("tx_packets") ?? 0) - before[q]);
    const q = flowHash(frame, 200) % 4;
    assert.deepEqual(
      diff,
      [0, 1, 2, 3].map((i) => (i === q ? 10 : 0)),
      `flow ${f}: ${diff}`,
    );
    used.add(q);
  }
  assert.equal(used.size, 4);
  assert.equal(received, 320);
  assert.deepEqual(h.fatals, []);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0, "buffers lent from one queue and copied to another came back");
});

test("the lending path allocates nothing per frame: 64 B and 1500 B, through TX, the backend and RX", async () => {
  const h = new Harness();
  let n = 0;
  let bad = 0;
  h.dev.onReceive((b, off, len) => {
    n++;
    if (checkFrame(b, off, len) < 0) bad++;
  });
  const mem = h.dev.txMem;
  const gcs = await countGcs((i) => {
    const len = i & 1 ? 1500 : 64;
    const at = h.dev.txBuffer(len);
    if (at >= 0) {
      // Header only: the payload check needs every byte, so write the small one whole.
      if (len === 64) fillFrame(mem.u8, at, len, i);
      else fillFrame(mem.u8, at, 18, i);
      h.dev.txCommit(len === 64 ? 64 : 18, 0);
    }
    if ((i & 15) === 15) h.pump();
  }, 200_000);
  assert.equal(gcs, 0);
  assert.ok(n > 200_000);
  assert.equal(bad, 0);
  assert.deepEqual(h.fatals, []);
});

test("property: interleaved lends, commits, aborts and copying sends arrive in order and intact", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant("lend" as const), len: fc.integer({ min: 18, max: PAGE_SIZE }) }),
          fc.record({ op: fc.constant("abort" as const), len: fc.constant(0) }),
          fc.record({ op: fc.constant("copy" as const), len: fc.integer({ min: 18, max: 9000 }) }),
          fc.record({ op: fc.constant("pump" as const), len: fc.constant(0) }),
        ),
        { maxLength: 300 },
      ),
      fc.integer({ min: 4, max: 64 }),
      (ops, pool) => {
        const h = new Harness({ device: { txBuffers: pool } });
        const got = receiver(h);
        const want: number[] = [];
        const buf = new Uint8Array(9000);
        let seq = 0;
        for (const o of ops) {
          if (o.op === "pump") h.pump();
          else if (o.op === "abort") {
            if (h.dev.txBuffer(64) >= 0) h.dev.txAbort();
          } else if (o.op === "lend") {
            if (sendInPlace(h, o.len, seq)) want.push(seq);
            else h.pump();
            seq++;
          } else {
            fillFrame(buf, 0, o.len, seq);
            if (h.dev.transmit(buf, o.len, 0)) want.push(seq);
            else h.pump();
            seq++;
          }
        }
        h.pump();
        assert.deepEqual(
          got.map((g) => g.seq),
          want,
        );
        assert.deepEqual(h.fatals, []);
        assert.equal(h.close(), 0);
        assert.equal(h.grants.liveGrants, 0);
      },
    ),
    { numRuns: 60 },
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapRegion } from "../../src/netmap/mem.js";
import { createPipe, PipeEnd } from "../../src/netmap/pipe.js";
import { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";

function pipePair(slots: number) {
  const region = new NetmapRegion(1, {
    ifBytes: 0,
    ringBytes: 4 * (256 + slots * 16 + 64),
    nBufs: 4 * slots + 2,
  });
  const d = createPipe(region, "vale0:p", slots);
  const a = new PipeEnd(region, d, true);
  const b = new PipeEnd(region, d, false);
  return {
    region,
    a: new NetmapPort(region, a, [a.txRing], [a.rxRing]),
    b: new NetmapPort(region, b, [b.txRing], [b.rxRing]),
  };
}

/** Sends up to `n` packets on `p`'s TX ring: len = seq & 0x7ff, buffer word 0 = seq. */
function send(p: NetmapPort, n: number, seq: { v: number }): number {
  const { mem: m } = p;
  const r = p.tx[0].r;
  const k = Math.min(n, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const s = ringSlot(r, h);
    m.u32[p.region.bufOff(slotBufIdx(m, s)) >>> 2] = seq.v;
    slotSetLen(m, s, (seq.v & 0x7ff) + 60);
    seq.v++;
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
  return k;
}

function receive(p: NetmapPort, max: number, expect: { v: number }, bufsSeen: Set<number>): number {
  const { mem: m } = p;
  const r = p.rx[0].r;
  p.rxsync();
  const k = Math.min(max, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const s = ringSlot(r, h);
    const idx = slotBufIdx(m, s);
    bufsSeen.add(idx);
    assert.equal(m.u32[p.region.bufOff(idx) >>> 2], expect.v, "in order, payload intact");
    assert.equal(slotLen(m, s), (expect.v & 0x7ff) + 60);
    expect.v++;
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return k;
}

test("a pipe moves packets in order by swapping buffers, never copying payload", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 64 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 80 })), { maxLength: 40 }),
      (slots, steps) => {
        const { a, b } = pipePair(slots);
        const seq = { v: 0 };
        const expect = { v: 0 };
        const seen = new Set<number>();
        let sent = 0;
        let got = 0;
        for (const [s, r] of steps) {
          sent += send(a, s, seq);
          got += receive(b, r, expect, seen);
          assert.ok(sent - got <= slots - 1, "at most num_slots - 1 in flight");
        }
        for (let i = 0; i < 4 && got < sent; i++) got += receive(b, 1000, expect, seen);
        assert.equal(got, sent);
        assert.equal(a.tx[0].resets + b.rx[0].resets, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test("a full pipe leaves the sender no space until the receiver releases slots", () => {
  const { a, b } = pipePair(8);
  const seq = { v: 0 };
  assert.equal(send(a, 100, seq), 7);
  assert.equal(nmRingSpace(a.mem, a.tx[0].r), 0);
  assert.equal(ringTail(a.mem, a.tx[0].r), 7);
  receive(b, 3, { v: 0 }, new Set());
  b.rxsync(); // hand the three slots back
  a.txsync(); // reclaim them
  assert.equal(nmRingSpace(a.mem, a.tx[0].r), 3);
});

test("poll sleeps until the peer sends, and a sender waiting for room wakes when slots come back", async () => {
  const { a, b } = pipePair(8);
  const t0 = performance.now();
  const idle = await b.poll({ rx: true }, 30);
  assert.deepEqual(idle, { rx: false, tx: false });
  assert.ok(performance.now() - t0 >= 25, "an idle poll waits for its timeout");
  const waiting = b.poll({ rx: true }, 2000);
  setTimeout(() => send(a, 3, { v: 0 }), 10);
  assert.deepEqual(await waiting, { rx: true, tx: false });
  send(a, 100, { v: 3 }); // fill the pipe: 7 in flight
  const room = a.poll({ tx: true }, 2000);
  setTimeout(() => receive(b, 4, { v: 0 }, new Set()) && b.rxsync(), 10);
  assert.deepEqual(await room, { rx: false, tx: true });
});

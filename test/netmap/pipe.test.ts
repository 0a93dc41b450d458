import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  NS_BUF_CHANGED,
  RING_CUR,
  RING_HEAD,
  RING_TAIL,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  ringTail,
  SEM_DELIVERED,
  SEM_RELEASED,
  SEM_SLEEPING,
  SEM_WAKE,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapRegion } from "../../src/netmap/mem.js";
import { createPipe, PipeEnd } from "../../src/netmap/pipe.js";
import { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { startScribbler, word } from "./scribble.js";

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

/**
 * Sends up to `n` packets on `p`'s TX ring: len = seq & 0x7ff, buffer word 0 = seq; notes
 * which buffer carried each seq in `bufOf`.
 */
function send(p: NetmapPort, n: number, seq: { v: number }, bufOf: number[] = []): number {
  const { mem: m } = p;
  const r = p.tx[0].r;
  const k = Math.min(n, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const s = ringSlot(r, h);
    bufOf[seq.v] = slotBufIdx(m, s);
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

/** Receives up to `max` packets in order; each must arrive in the buffer `bufOf` says it left in. */
function receive(p: NetmapPort, max: number, expect: { v: number }, bufOf?: number[]): number {
  const { mem: m } = p;
  const r = p.rx[0].r;
  p.rxsync();
  const k = Math.min(max, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const s = ringSlot(r, h);
    const idx = slotBufIdx(m, s);
    if (bufOf !== undefined)
      assert.equal(idx, bufOf[expect.v], `seq ${expect.v} arrives in the buffer it left in`);
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
        const { region, a, b } = pipePair(slots);
        const free = region.freeBufs;
        const seq = { v: 0 };
        const expect = { v: 0 };
        const bufOf: number[] = [];
        let sent = 0;
        let got = 0;
        for (const [s, r] of steps) {
          sent += send(a, s, seq, bufOf);
          got += receive(b, r, expect, bufOf);
          assert.ok(sent - got <= slots - 1, "at most num_slots - 1 in flight");
        }
        for (let i = 0; i < 4 && got < sent; i++) got += receive(b, 1000, expect, bufOf);
        assert.equal(got, sent);
        assert.equal(region.freeBufs, free, "no buffer was taken from the pool");
        // Every ring still names each of the pipe's buffers exactly once: only swaps happened.
        const named = new Set<number>();
        for (const k of [a.tx[0], a.rx[0], b.tx[0], b.rx[0]])
          for (let i = 0; i < slots; i++) named.add(slotBufIdx(region.mem, ringSlot(k.r, i)));
        assert.equal(named.size, 4 * slots);
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
  receive(b, 3, { v: 0 });
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
  setTimeout(() => receive(b, 4, { v: 0 }) && b.rxsync(), 10);
  assert.deepEqual(await room, { rx: false, tx: true });
});

test("a pipe end takes no delivered or released position its peer could not have reached", () => {
  const { region, a, b } = pipePair(8);
  const u32 = region.mem.u32;
  send(a, 3, { v: 0 });
  const rx = b.rx[0];
  const tx = a.tx[0];
  // The peer (anyone holding the region) rewrites the words the other end's sync reads.
  for (const bad of [5000, 8, 0xffffffff]) {
    Atomics.store(u32, (rx.r >>> 2) + SEM_DELIVERED, bad);
    b.rxsync();
    assert.equal(rx.hwtail, 0, `delivered = ${bad} is ignored`);
  }
  Atomics.store(u32, (rx.r >>> 2) + SEM_DELIVERED, 3);
  b.rxsync();
  assert.equal(rx.hwtail, 3, "a reachable position is taken");
  assert.equal(ringTail(region.mem, rx.r), 3);
  Atomics.store(u32, (rx.r >>> 2) + SEM_DELIVERED, 2);
  b.rxsync();
  assert.equal(rx.hwtail, 3, "delivered never moves back");
  Atomics.store(u32, (rx.r >>> 2) + SEM_DELIVERED, 3);
  for (const bad of [5000, 8, 5, 0xffffffff]) {
    // 5: releases slots 3 and 4, which were never sent (hwcur is 3).
    Atomics.store(u32, (rx.r >>> 2) + SEM_RELEASED, bad);
    a.txsync();
    assert.equal(tx.hwtail, 7, `released = ${bad} is ignored`);
  }
  assert.equal(rx.peerErrors, 4);
  assert.equal(tx.peerErrors, 4);
  receive(b, 3, { v: 0 });
  b.rxsync();
  a.txsync();
  assert.equal(tx.hwtail, 2, "an honest release still reclaims");
});

test("a hostile peer thread scribbling the pipe's shared words never moves an end outside its ring", async () => {
  const slots = 64;
  const { region, a, b } = pipePair(slots);
  const m = region.mem;
  const n = slots;
  const all = a.tx[0].r < b.tx[0].r ? [a.tx[0].r, a.rx[0].r, b.tx[0].r, b.rx[0].r] : [];
  assert.equal(all.length, 4);
  const sem = all.flatMap((r) =>
    [SEM_DELIVERED, SEM_RELEASED, SEM_WAKE, SEM_SLEEPING].map((w) => (r >>> 2) + w),
  );
  const idx = all.flatMap((r) => [RING_HEAD, RING_CUR, RING_TAIL].map((o) => word(r + o)));
  const slotWords = all.flatMap((r) =>
    Array.from({ length: n }, (_, i) => [word(ringSlot(r, i)), word(ringSlot(r, i)) + 1]).flat(),
  );
  const positions = [0, 1, n - 2, n - 1, n, n + 1, 5000, 0x7fffffff, 0xffffffff];
  const h = await startScribbler(m.buffer as SharedArrayBuffer, [
    { words: sem, values: positions },
    { words: idx, values: positions },
    {
      words: slotWords,
      values: [0, 1, 2, region.nBufs - 1, region.nBufs, 0xffffffff, 60, 65535, 60 | (NS_BUF_CHANGED << 16)],
    },
  ]);
  let syncs = 0;
  try {
    const t0 = performance.now();
    while (performance.now() - t0 < 300) {
      // An honest user of end a: reads each shared word once and trusts none of it.
      const tr = a.tx[0].r;
      const head = ringHead(m, tr);
      const tail = ringTail(m, tr);
      if (head < n && tail < n)
        for (let i = head, c = 0; i !== tail && c < n; i = nmRingNext(n, i), c++) {
          const buf = slotBufIdx(m, ringSlot(tr, i));
          if (region.validBuf(buf)) m.u32[region.bufOff(buf) >>> 2] = i;
          slotSetLen(m, ringSlot(tr, i), 60);
          ringSetHead(m, tr, nmRingNext(n, i));
          ringSetCur(m, tr, nmRingNext(n, i));
        }
      a.txsync();
      a.rxsync();
      const rr = a.rx[0].r;
      const rt = ringTail(m, rr);
      if (rt < n) {
        ringSetHead(m, rr, rt);
        ringSetCur(m, rr, rt);
      }
      syncs += 2;
      for (const k of [a.tx[0], a.rx[0]])
        for (const v of [k.hwcur, k.hwtail, k.rhead, k.rcur, k.rtail])
          assert.ok(v < n, `${k.name}: ${v} < ${n}`);
    }
  } finally {
    const writes = await h.stop();
    assert.ok(writes > 1000, `the peer thread wrote (${writes})`);
  }
  assert.ok(syncs > 100);
  assert.ok(a.tx[0].peerErrors + a.rx[0].peerErrors > 0, "the bad positions were seen and counted");
});

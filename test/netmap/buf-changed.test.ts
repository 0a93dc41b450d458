import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  NS_BUF_CHANGED,
  NS_MOREFRAG,
  ringCur,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapRegion } from "../../src/netmap/mem.js";
import { MonitorAdapter } from "../../src/netmap/monitor.js";
import { createPipe, PipeEnd } from "../../src/netmap/pipe.js";
import { NetmapPort } from "../../src/netmap/port.js";
import { nmRingSpace } from "../../src/netmap/ring.js";

/** A pipe a -> b whose region has `spare` buffers beyond the pipe's own, all held by the test. */
function pipe(slots: number, spare = 8) {
  const region = new NetmapRegion(1, {
    ifBytes: 0,
    ringBytes: 4 * (256 + slots * 16 + 64),
    nBufs: 4 * slots + 2 + spare,
  });
  const d = createPipe(region, "vale0:p", slots);
  const ea = new PipeEnd(region, d, true);
  const eb = new PipeEnd(region, d, false);
  const spares: number[] = [];
  for (let b = region.allocBuf(); b !== 0; b = region.allocBuf()) spares.push(b);
  return {
    region,
    ea,
    a: new NetmapPort(region, ea, [ea.txRing], [ea.rxRing]),
    b: new NetmapPort(region, eb, [eb.txRing], [eb.rxRing]),
    spares,
  };
}

type Pipe = ReturnType<typeof pipe>;

const at = (n: number, i: number): number => i % n;

/** Fills `count` TX slots of `p` from head with payload word seq++ and len 60 + seq % 100. */
function fill(p: NetmapPort, count: number, seq: { v: number }): number {
  const m = p.mem;
  const r = p.tx[0].r;
  const h0 = ringHead(m, r);
  for (let i = 0; i < count; i++) {
    const s = ringSlot(r, at(p.tx[0].numSlots, h0 + i));
    m.u32[p.region.bufOff(slotBufIdx(m, s)) >>> 2] = seq.v;
    slotSetLen(m, s, 60 + (seq.v % 100));
    seq.v++;
  }
  return h0;
}

function advance(p: NetmapPort, ring: number, to: number): void {
  ringSetHead(p.mem, ring, to);
  ringSetCur(p.mem, ring, to);
}

/** Takes what b's RX ring holds (checking order, payload and flags), releasing nothing. */
function look(p: NetmapPort, expect: { v: number }): number[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const h = ringHead(m, r);
  const bufs: number[] = [];
  for (let i = 0; i < nmRingSpace(m, r); i++) {
    const s = ringSlot(r, at(p.rx[0].numSlots, h + i));
    const idx = slotBufIdx(m, s);
    assert.ok(p.region.validBuf(idx), `RX slot holds buffer ${idx}`);
    assert.equal(slotFlags(m, s) & NS_BUF_CHANGED, 0, "the receiver never sees NS_BUF_CHANGED");
    assert.equal(m.u32[p.region.bufOff(idx) >>> 2], expect.v, "in order, payload intact");
    assert.equal(slotLen(m, s), 60 + (expect.v % 100));
    expect.v++;
    bufs.push(idx);
  }
  return bufs;
}

/** Sends and receives `n` packets whole, to move the rings' positions around. */
function rotate(x: Pipe, n: number, seq: { v: number }, expect: { v: number }): void {
  const slots = x.a.tx[0].numSlots;
  while (n > 0) {
    x.a.txsync();
    const k = Math.min(n, nmRingSpace(x.a.mem, x.a.tx[0].r));
    const h = fill(x.a, k, seq);
    advance(x.a, x.a.tx[0].r, at(slots, h + k));
    x.a.txsync();
    const got = look(x.b, expect).length;
    advance(x.b, x.b.rx[0].r, at(slots, ringHead(x.b.mem, x.b.rx[0].r) + got));
    x.b.rxsync();
    n -= k;
  }
  x.a.txsync();
}

/** Every buffer of the region sits in exactly one place: a ring slot or the test's hand. */
function assertConserved(x: Pipe): void {
  const m = x.region.mem;
  const all: number[] = [...x.spares];
  for (const k of [...x.a.tx, ...x.a.rx, ...x.b.tx, ...x.b.rx])
    for (let i = 0; i < k.numSlots; i++) all.push(slotBufIdx(m, ringSlot(k.r, i)));
  assert.ok(
    all.every((b) => x.region.validBuf(b)),
    "no reserved or out-of-range buffer anywhere",
  );
  assert.equal(new Set(all).size, all.length, "no buffer in two places");
  assert.equal(all.length, x.region.nBufs - 2, "no buffer lost");
}

const badIdx = (nBufs: number) =>
  fc.oneof(
    fc.constant(0),
    fc.constant(1),
    fc.integer({ min: nBufs, max: nBufs + 1000 }),
    fc.constant(0xffff_ffff),
  );

test("pipe txsync: a bad NS_BUF_CHANGED buffer mid-batch stops there: slots before it delivered, ring reset once, nothing bad reaches the peer", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 4, max: 24 }).chain((slots) =>
        fc.record({
          slots: fc.constant(slots),
          pre: fc.nat({ max: 3 * slots }),
          batch: fc.integer({ min: 1, max: slots - 1 }),
          badAt: fc.nat({ max: slots - 2 }),
          bad: badIdx(4 * slots + 2 + 8),
          swapMask: fc.nat({ max: 0xff }),
        }),
      ),
      ({ slots, pre, batch, badAt: badRaw, bad, swapMask }) => {
        const x = pipe(slots);
        const { a, b } = x;
        const m = x.region.mem;
        const seq = { v: 0 };
        const expect = { v: 0 };
        rotate(x, pre, seq, expect);
        const badAt = badRaw % batch;
        const tr = a.tx[0].r;
        const h0 = fill(a, batch, seq);
        const slotAt = (i: number) => ringSlot(tr, at(slots, h0 + i));
        // Good changed buffers: some slots take a spare (with the payload copied).
        for (let i = 0; i < batch && i < 8; i++) {
          if (i === badAt || ((swapMask >>> i) & 1) === 0) continue;
          const s = slotAt(i);
          const mine = slotBufIdx(m, s);
          const spare = x.spares.pop() as number;
          m.u32[x.region.bufOff(spare) >>> 2] = m.u32[x.region.bufOff(mine) >>> 2];
          slotSetBufIdx(m, s, spare);
          slotSetFlags(m, s, NS_BUF_CHANGED);
          x.spares.push(mine);
        }
        const sb = slotAt(badAt);
        const orig = slotBufIdx(m, sb);
        const origLen = slotLen(m, sb);
        slotSetBufIdx(m, sb, bad);
        slotSetFlags(m, sb, NS_BUF_CHANGED);
        advance(a, tr, at(slots, h0 + batch));
        a.txsync();

        const stop = at(slots, h0 + badAt);
        assert.equal(a.tx[0].resets, 1);
        assert.equal(a.tx[0].hwcur, stop);
        assert.deepEqual(
          [ringHead(m, tr), ringCur(m, tr)],
          [stop, stop],
          "the user gets the bad slot back at head",
        );
        assert.deepEqual([slotBufIdx(m, sb), slotLen(m, sb)], [0, 0], "reinit cleaned the bad slot");
        for (let i = 0; i < badAt; i++)
          assert.equal(slotFlags(m, slotAt(i)) & NS_BUF_CHANGED, 0, "handed-over slots came back clean");
        const before = expect.v;
        look(b, expect);
        assert.equal(expect.v - before, badAt, "exactly the slots before the bad one arrived");

        // The user mends the slot; the rest of the batch (untouched by the reset) follows.
        slotSetBufIdx(m, sb, orig);
        slotSetLen(m, sb, origLen);
        slotSetFlags(m, sb, NS_BUF_CHANGED);
        assertConserved(x);
        advance(a, tr, at(slots, h0 + batch));
        a.txsync();
        assert.equal(a.tx[0].resets, 1);
        expect.v = before;
        look(b, expect);
        assert.equal(expect.v - before, batch);
        assertConserved(x);
      },
    ),
    { numRuns: 300 },
  );
});

test("pipe txsync: a good changed buffer is delivered, other flags kept, NS_BUF_CHANGED cleared", () => {
  const x = pipe(8);
  const { a, b } = x;
  const m = x.region.mem;
  const tr = a.tx[0].r;
  const s = ringSlot(tr, 0);
  const mine = slotBufIdx(m, s);
  const spare = x.spares.pop() as number;
  m.u32[x.region.bufOff(spare) >>> 2] = 0xc0ffee;
  slotSetBufIdx(m, s, spare);
  slotSetLen(m, s, 1234);
  slotSetFlags(m, s, NS_BUF_CHANGED | NS_MOREFRAG | 0x4200);
  x.spares.push(mine);
  advance(a, tr, 1);
  a.txsync();
  b.rxsync();
  const rs = ringSlot(b.rx[0].r, 0);
  assert.equal(nmRingSpace(m, b.rx[0].r), 1);
  assert.deepEqual(
    [slotBufIdx(m, rs), slotLen(m, rs), slotFlags(m, rs)],
    [spare, 1234, NS_MOREFRAG | 0x4200],
    "zero copy: the user's buffer moved, with its length and every flag but NS_BUF_CHANGED",
  );
  assert.equal(m.u32[x.region.bufOff(spare) >>> 2], 0xc0ffee);
  assert.equal(slotFlags(m, s), 0, "the sender's slot holds the peer's old buffer, flags clear");
  assert.equal(a.tx[0].resets + b.rx[0].resets, 0);
  assertConserved(x);
});

test("pipe rxsync: released slots are checked: a bad changed buffer stops the release there and resets the ring; good ones go back with the flag cleared", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 4, max: 24 }).chain((slots) =>
        fc.record({
          slots: fc.constant(slots),
          pre: fc.nat({ max: 3 * slots }),
          got: fc.integer({ min: 1, max: slots - 1 }),
          release: fc.nat({ max: slots - 1 }),
          badAt: fc.option(fc.nat({ max: slots - 2 }), { nil: undefined }),
          bad: badIdx(4 * slots + 2 + 8),
          swapMask: fc.nat({ max: 0xff }),
        }),
      ),
      ({ slots, pre, got, release: relRaw, badAt: badRaw, bad, swapMask }) => {
        const x = pipe(slots);
        const { a, b } = x;
        const m = x.region.mem;
        const seq = { v: 0 };
        const expect = { v: 0 };
        rotate(x, pre, seq, expect);
        const h = fill(a, got, seq);
        advance(a, a.tx[0].r, at(slots, h + got));
        a.txsync();
        const rr = b.rx[0].r;
        const r0 = ringHead(m, rr);
        assert.equal(look(b, expect).length, got);
        const release = 1 + (relRaw % got);
        const badAt = badRaw === undefined ? -1 : badRaw % release;
        const slotAt = (i: number) => ringSlot(rr, at(slots, r0 + i));
        // The receiver keeps some buffers and releases spares in their place.
        for (let i = 0; i < release && i < 8; i++) {
          if (i === badAt || ((swapMask >>> i) & 1) === 0) continue;
          const s = slotAt(i);
          x.spares.push(slotBufIdx(m, s));
          slotSetBufIdx(m, s, x.spares.shift() as number);
          slotSetFlags(m, s, slotFlags(m, s) | NS_BUF_CHANGED);
        }
        let orig = 0;
        if (badAt >= 0) {
          orig = slotBufIdx(m, slotAt(badAt));
          slotSetBufIdx(m, slotAt(badAt), bad);
          slotSetFlags(m, slotAt(badAt), NS_BUF_CHANGED);
        }
        advance(b, rr, at(slots, r0 + release));
        b.rxsync();

        const freed = badAt >= 0 ? badAt : release;
        assert.equal(b.rx[0].resets, badAt >= 0 ? 1 : 0);
        assert.equal(b.rx[0].hwcur, at(slots, r0 + freed));
        assert.equal(ringHead(m, rr), at(slots, r0 + freed));
        for (let i = 0; i < freed; i++)
          assert.equal(slotFlags(m, slotAt(i)) & NS_BUF_CHANGED, 0, "released slots lose the flag");
        if (badAt >= 0) {
          assert.deepEqual([slotBufIdx(m, slotAt(badAt)), slotLen(m, slotAt(badAt))], [0, 0]);
          assert.equal(ringTail(m, rr), at(slots, r0 + got), "a reset RX ring still shows what arrived");
          slotSetBufIdx(m, slotAt(badAt), orig);
        }
        assertConserved(x);

        a.txsync();
        assert.equal(
          nmRingSpace(m, a.tx[0].r),
          slots - 1 - got + freed,
          "the sender got back what was freed",
        );
        // Release the rest, then a lap and more of traffic: the released buffers come back
        // to the sender's TX ring and on to the receiver, and only real ones ever do.
        advance(b, rr, at(slots, r0 + got));
        b.rxsync();
        rotate(x, 2 * slots, seq, expect);
        assert.equal(a.tx[0].resets, 0);
        assert.equal(b.rx[0].resets, badAt >= 0 ? 1 : 0);
        assertConserved(x);
      },
    ),
    { numRuns: 300 },
  );
});

test("with a monitor watching, the common check runs first: a bad buffer resets before anything is sent or copied", () => {
  const x = pipe(8);
  const { a, b, ea } = x;
  const mon = new MonitorAdapter(ea, { tx: true, rx: false, slots: 16 });
  const mp = new NetmapPort(mon.region, mon, [], [mon.rxRing]);
  const m = x.region.mem;
  const tr = a.tx[0].r;
  const seq = { v: 0 };
  fill(a, 4, seq);
  slotSetBufIdx(m, ringSlot(tr, 2), 1);
  slotSetFlags(m, ringSlot(tr, 2), NS_BUF_CHANGED);
  advance(a, tr, 4);
  a.txsync();
  assert.equal(a.tx[0].resets, 1);
  assert.equal(ringHead(m, tr), 0, "all or nothing, as for any adapter");
  b.rxsync();
  assert.equal(nmRingSpace(m, b.rx[0].r), 0);
  mp.rxsync();
  assert.equal(nmRingSpace(mon.region.mem, mon.rxRing), 0, "the monitor copied nothing");
  assert.equal(mon.counters.get("copied"), 0);
  mp.close();
});

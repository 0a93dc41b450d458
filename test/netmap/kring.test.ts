import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FakeClock } from "../../src/base/clock.js";
import { RateLog } from "../../src/base/ratelog.js";
import { between, KRing } from "../../src/netmap/kring.js";
import {
  RING_NUM_SLOTS,
  ringBytes,
  ringCur,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSetTail,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotLen,
  slotSetBufIdx,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { nmRingEmpty, nmRingNext, nmRingSpace, nmTxPending } from "../../src/netmap/ring.js";
import { sharedMem } from "../../src/wire/mem.js";

function makeRing(n: number, tx: boolean, lines: string[] = []) {
  const m = sharedMem(ringBytes(n));
  m.u32[RING_NUM_SLOTS >>> 2] = n;
  const log = new RateLog({ sink: (l) => lines.push(l), clock: new FakeClock(), burst: 3 });
  const k = new KRing({ m, r: 0, numSlots: n, tx, name: "vale0:a", nBufs: 64, bufSize: 2048, log });
  k.reset();
  return { m, k };
}

const opArb = fc.oneof(
  fc.record({ op: fc.constant("fill" as const), k: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ op: fc.constant("sync" as const), k: fc.constant(0) }),
  fc.record({ op: fc.constant("holdCur" as const), k: fc.constant(0) }),
  fc.record({ op: fc.constant("garbage" as const), k: fc.nat({ max: 2 ** 32 - 1 }) }),
  fc.record({ op: fc.constant("tailScribble" as const), k: fc.nat({ max: 100 }) }),
);

test("a TX ring driven by a well-behaved user never resets; garbage resets it and is counted", () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 37 }), fc.array(opArb, { maxLength: 60 }), (n, ops) => {
      const { m, k } = makeRing(n, true);
      let sent = 0;
      let dirty = false;
      let resets = 0;
      for (const { op, k: v } of ops) {
        if (op === "fill") {
          const take = Math.min(v, nmRingSpace(m, 0));
          let h = ringHead(m, 0);
          for (let i = 0; i < take; i++) h = nmRingNext(n, h);
          ringSetHead(m, 0, h);
          ringSetCur(m, 0, h);
        } else if (op === "holdCur") {
          // "Wake me when there is room": cur = tail while head stays.
          ringSetCur(m, 0, ringTail(m, 0));
        } else if (op === "garbage") {
          ringSetHead(m, 0, v % (n + 3));
          ringSetCur(m, 0, (v >>> 8) % (n + 3));
          dirty = true;
        } else if (op === "tailScribble") {
          // The user overwrites tail; a prologue with good head/cur quietly restores it.
          ringSetTail(m, 0, v % n);
          const h = k.txsyncPrologue();
          if (!dirty) {
            assert.ok(h >= 0, "a tail scribble alone is no reason to reset");
            assert.equal(ringTail(m, 0), k.rtail, "tail restored");
          } else if (h < 0) resets++;
          dirty = false;
          continue;
        } else {
          const head = ringHead(m, 0);
          const cur = ringCur(m, 0);
          const legal = head < n && cur < n && between(k.rhead, head, k.rtail) && between(head, cur, k.rtail);
          const h = k.txsyncPrologue();
          if (!dirty) assert.ok(h >= 0, "a well-behaved user never triggers a reset");
          assert.equal(h >= 0, legal);
          if (h < 0) {
            resets++;
            assert.equal(ringHead(m, 0), k.hwcur);
            assert.equal(ringTail(m, 0), k.hwtail);
          } else {
            sent += (h - k.hwcur + n) % n;
            k.hwcur = h;
            k.hwtail = (h - 1 + n) % n; // synchronous completion, as on VALE ports and pipes
            k.syncFinalize();
            assert.ok(!nmTxPending(m, 0), "everything handed over was completed");
          }
          dirty = false;
        }
        for (const x of [k.hwcur, k.hwtail, k.rhead, k.rcur, k.rtail]) assert.ok(x >= 0 && x < n);
        assert.ok(between(k.hwcur, k.rhead, k.rtail));
      }
      assert.equal(k.resets, resets);
      assert.ok(sent >= 0);
    }),
    { numRuns: 300 },
  );
});

test("an RX ring accepts head and cur only inside [hwcur, hwtail]", () => {
  const { m, k } = makeRing(8, false);
  assert.ok(nmRingEmpty(m, 0));
  k.hwtail = 5; // the port delivered five slots
  k.syncFinalize();
  assert.equal(nmRingSpace(m, 0), 5);
  ringSetHead(m, 0, 3);
  ringSetCur(m, 0, 5);
  assert.equal(k.rxsyncPrologue(), 3);
  ringSetHead(m, 0, 6); // past what was delivered
  ringSetCur(m, 0, 6);
  assert.equal(k.rxsyncPrologue(), -1);
  assert.equal(ringHead(m, 0), k.hwcur);
  assert.equal(k.resets, 1);
});

test("reinit cleans slots naming reserved or missing buffers and impossible lengths, and logs at a limited rate", () => {
  const lines: string[] = [];
  const { m, k } = makeRing(4, true, lines);
  const s = (i: number) => ringSlot(0, i);
  slotSetBufIdx(m, s(0), 1);
  slotSetLen(m, s(0), 60);
  slotSetBufIdx(m, s(1), 5000);
  slotSetBufIdx(m, s(2), 9);
  slotSetLen(m, s(2), 4000);
  slotSetBufIdx(m, s(3), 10);
  slotSetLen(m, s(3), 1514);
  for (let i = 0; i < 5; i++) {
    ringSetHead(m, 0, 99);
    assert.equal(k.txsyncPrologue(), -1);
  }
  assert.deepEqual([slotBufIdx(m, s(0)), slotLen(m, s(0))], [0, 0]);
  assert.equal(slotBufIdx(m, s(1)), 0);
  assert.deepEqual([slotBufIdx(m, s(2)), slotLen(m, s(2))], [9, 0]);
  assert.deepEqual([slotBufIdx(m, s(3)), slotLen(m, s(3))], [10, 1514]);
  assert.equal(k.resets, 5);
  assert.equal(lines.length, 3, "rate-limited to the burst");
  assert.match(lines[0], /vale0:a: txsync: head 99/);
});

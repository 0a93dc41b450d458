import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RingArea } from "../../src/ring/area.js";
import { BackRing } from "../../src/ring/back.js";
import { RING_ERR_REQ_PROD, RING_ERR_RSP_PROD } from "../../src/ring/errors.js";
import { FrontRing } from "../../src/ring/front.js";
import { type Mem, privateMem, sharedMem } from "../../src/wire/mem.js";
import { SRING_REQ_PROD, SRING_RSP_PROD } from "../../src/wire/xen/sring.js";

const PAGE = 4096;

/** A ring of 2^order pages placed at shuffled, non-contiguous pages of a 40-page memory. */
function makeRing(order: number, entrySize: number, perm: number[], start = 0) {
  const mem = sharedMem(40 * PAGE);
  const pages = perm.slice(0, 1 << order).map((p) => p * PAGE);
  const fArea = new RingArea(mem, pages, entrySize);
  const front = FrontRing.init(fArea, start);
  const back = BackRing.attach(new RingArea(mem, pages, entrySize));
  assert.ok(typeof back !== "number");
  return { mem, front, back: back as BackRing, area: fArea };
}

function writeReq(front: FrontRing, words: number, v: number): void {
  const at = front.beginRequest();
  for (let w = 0; w < words; w++) front.wmem.u32[(at >>> 2) + w] = (v * 7 + w) >>> 0;
  front.endRequest();
}

function writeRsp(back: BackRing, words: number, v: number): void {
  const at = back.beginResponse();
  for (let w = 0; w < words; w++) back.wmem.u32[(at >>> 2) + w] = (v * 13 + w) >>> 0;
  back.endResponse();
}

const permArb = fc.shuffledSubarray([...Array(40).keys()], { minLength: 16, maxLength: 16 });
const opArb = fc.oneof(
  fc.record({ op: fc.constant("produce" as const), n: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant("push" as const), n: fc.constant(0) }),
  fc.record({ op: fc.constant("consume" as const), n: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant("respond" as const), n: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant("pushRsp" as const), n: fc.constant(0) }),
  fc.record({ op: fc.constant("reap" as const), n: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ op: fc.constant("backSleep" as const), n: fc.constant(0) }),
  fc.record({ op: fc.constant("frontSleep" as const), n: fc.constant(0) }),
);

test("ring indices, data and notify decisions follow ring.h from just below 2^32", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2),
      fc.constantFrom(8, 12, 16),
      permArb,
      fc.integer({ min: 2 ** 32 - 3000, max: 2 ** 32 - 1 }),
      fc.array(opArb, { minLength: 1, maxLength: 80 }),
      (order, esz, perm, start, ops) => {
        const { front, back } = makeRing(order, esz, perm, start);
        const W = esz / 4;
        const n = front.nrEnts;
        const scratch = privateMem(n * esz);
        // Model: values produced, pushed, consumed, answered, answers pushed, answers reaped.
        let produced = 0;
        let pushed = 0;
        let consumed = 0;
        let answered = 0;
        let answersPushed = 0;
        let reaped = 0;
        // Requests the backend last saw published (its last reading of req_prod).
        let seen = 0;
        // The consumer asked to be woken (SHARED_RING_INIT arms both events at index+1).
        let backArmed = true;
        let frontArmed = true;
        for (const { op, n: k } of ops) {
          switch (op) {
            case "produce": {
              const m = Math.min(k, front.freeRequests());
              for (let i = 0; i < m; i++) writeReq(front, W, produced++);
              assert.equal(front.freeRequests(), n - (produced - reaped));
              break;
            }
            case "push": {
              const notify = front.pushRequestsAndCheckNotify();
              const fresh = produced > pushed;
              pushed = produced;
              assert.equal(notify, fresh && backArmed, "request notify decision");
              if (notify) backArmed = false;
              break;
            }
            case "consume": {
              // req_prod is read again only once what the last reading saw is consumed
              // (req-cursor.ts): a batch may stop short of requests pushed since.
              if (seen === consumed) seen = pushed;
              const got = back.copyRequests(scratch, 0, k);
              assert.equal(got, Math.min(k, seen - consumed));
              for (let i = 0; i < got; i++)
                for (let w = 0; w < W; w++)
                  assert.equal(scratch.u32[i * W + w], ((consumed + i) * 7 + w) >>> 0);
              consumed += got;
              break;
            }
            case "respond": {
              const m = Math.min(k, consumed - answered);
              for (let i = 0; i < m; i++) writeRsp(back, W, answered++);
              break;
            }
            case "pushRsp": {
              const notify = back.pushResponsesAndCheckNotify();
              const fresh = answered > answersPushed;
              answersPushed = answered;
              assert.equal(notify, fresh && frontArmed, "response notify decision");
              if (notify) frontArmed = false;
              break;
            }
            case "reap": {
              const got = front.copyResponses(scratch, 0, k);
              assert.equal(got, Math.min(k, answersPushed - reaped));
              for (let i = 0; i < got; i++)
                for (let w = 0; w < W; w++)
                  assert.equal(scratch.u32[i * W + w], ((reaped + i) * 13 + w) >>> 0);
              reaped += got;
              break;
            }
            case "backSleep": {
              const work = back.finalCheckForRequests();
              seen = pushed; // it read req_prod
              assert.equal(work, pushed > consumed);
              if (!work) backArmed = true;
              break;
            }
            case "frontSleep": {
              const work = front.finalCheckForResponses();
              assert.equal(work, answersPushed > reaped);
              if (!work) frontArmed = true;
              break;
            }
          }
        }
        assert.equal(back.unconsumedRequests(), pushed - consumed);
        assert.equal(front.unconsumedResponses(), answersPushed - reaped);
      },
    ),
    // The counterexample CI found once (a batch after a final check that saw one request).
    {
      numRuns: 150,
      examples: [
        [
          0,
          8,
          [6, 23, 4, 3, 9, 38, 25, 30, 14, 7, 16, 18, 17, 28, 0, 39],
          4294964296,
          [
            { op: "produce", n: 1 },
            { op: "push", n: 0 },
            { op: "backSleep", n: 0 },
            { op: "produce", n: 1 },
            { op: "push", n: 0 },
            { op: "consume", n: 2 },
          ],
        ],
      ],
    },
  );
});

test("a 12-byte entry straddling two non-adjacent pages lands in both (entry 677 of an order-2 ring)", () => {
  const { mem, front, back, area } = makeRing(2, 12, [9, 3, 30, 17]);
  assert.equal(area.nrEnts, 1024);
  assert.equal(area.slotOff[677], -1, "entry 677 is marked as straddling");
  assert.equal(area.slotOff[676], 3 * PAGE + (64 + 676 * 12 - PAGE));
  const scratch = privateMem(1024 * 12);
  for (let i = 0; i < 678; i++) writeReq(front, 3, i);
  front.pushRequests();
  // Bytes 8188..8191 of the ring area: the last word of ring page 1 (memory page 3).
  assert.equal(mem.u32[(3 * PAGE + 4092) >>> 2], (677 * 7) >>> 0);
  // Bytes 8192..8199: the first two words of ring page 2 (memory page 30).
  assert.equal(mem.u32[(30 * PAGE) >>> 2], (677 * 7 + 1) >>> 0);
  assert.equal(mem.u32[(30 * PAGE + 4) >>> 2], (677 * 7 + 2) >>> 0);
  assert.equal(back.copyRequests(scratch, 0, 1024), 678);
  assert.deepEqual([...scratch.u32.subarray(677 * 3, 678 * 3)], [677 * 7, 677 * 7 + 1, 677 * 7 + 2]);
  for (let i = 0; i < 678; i++) writeRsp(back, 3, i);
  back.pushResponses();
  assert.equal(front.copyResponses(scratch, 0, 1024), 678);
  assert.deepEqual([...scratch.u32.subarray(677 * 3, 678 * 3)], [677 * 13, 677 * 13 + 1, 677 * 13 + 2]);
});

test("ring sizes match ring.h for every order", () => {
  const mem: Mem = sharedMem(16 * PAGE);
  const pages = (n: number) => [...Array(n).keys()].map((p) => p * PAGE);
  for (let order = 0; order <= 4; order++) {
    assert.equal(new RingArea(mem, pages(1 << order), 12).nrEnts, 256 << order);
    assert.equal(new RingArea(mem, pages(1 << order), 8).nrEnts, 256 << order);
    assert.equal(new RingArea(mem, pages(1 << order), 16).nrEnts, 128 << order);
  }
  assert.throws(() => new RingArea(mem, pages(3), 12), /power of 2/);
});

test("a hostile req_prod is a protocol error, never a crash, a hang or an over-read", () => {
  fc.assert(
    fc.property(
      permArb,
      fc.nat({ max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 255 }),
      (perm, lie, before) => {
        const { mem, front, back, area } = makeRing(0, 12, perm);
        const scratch = privateMem(256 * 12);
        for (let i = 0; i < before; i++) writeReq(front, 3, i);
        front.pushRequests();
        assert.equal(back.copyRequests(scratch, 0, before), before);
        for (let i = 0; i < before; i++) writeRsp(back, 3, i);
        back.pushResponses();
        // The guest rewrites req_prod with anything at all.
        Atomics.store(mem.u32, (area.hdr + SRING_REQ_PROD) >>> 2, lie);
        const outstanding = (lie - before) >>> 0;
        const got = back.copyRequests(scratch, 0, 10_000);
        if (outstanding > 256) {
          assert.equal(got, RING_ERR_REQ_PROD);
          // Going to sleep must not hide the error: the final check reports work to look at.
          assert.equal(back.finalCheckForRequests(), true);
        } else assert.equal(got, outstanding);
      },
    ),
    { numRuns: 300 },
  );
});

test("the backend refuses to attach to a ring already claiming too many requests", () => {
  const { mem, area } = makeRing(0, 12, [1, 2]);
  Atomics.store(mem.u32, (area.hdr + SRING_REQ_PROD) >>> 2, 257);
  assert.equal(BackRing.attach(new RingArea(mem, [PAGE], 12)), RING_ERR_REQ_PROD);
  Atomics.store(mem.u32, (area.hdr + SRING_REQ_PROD) >>> 2, 256);
  assert.notEqual(typeof BackRing.attach(new RingArea(mem, [PAGE], 12)), "number");
});

test("a hostile rsp_prod is a protocol error for the frontend", () => {
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 256 }), (lie, sent) => {
      const { mem, front, area } = makeRing(0, 12, [5, 6]);
      for (let i = 0; i < sent; i++) writeReq(front, 3, i);
      front.pushRequests();
      Atomics.store(mem.u32, (area.hdr + SRING_RSP_PROD) >>> 2, lie);
      const got = front.copyResponses(privateMem(256 * 12), 0, 1000);
      if (lie > sent) assert.equal(got, RING_ERR_RSP_PROD);
      else assert.equal(got, lie);
    }),
    { numRuns: 300 },
  );
});

test("each request is read once: a guest rewriting the slot after the copy changes nothing", () => {
  const { mem, front, back } = makeRing(0, 12, [7, 8]);
  writeReq(front, 3, 5);
  front.pushRequests();
  const scratch = privateMem(12);
  assert.equal(back.copyRequests(scratch, 0, 1), 1);
  mem.u32.fill(0xdeadbeef, (7 * PAGE + 64) >>> 2, (7 * PAGE + 76) >>> 2);
  assert.deepEqual([...scratch.u32.subarray(0, 3)], [35, 36, 37]);
});

/**
 * netfront's small TX buffers (tx.ts): frames of up to TX_SMALL_BUF bytes go in sixteenths
 * of granted pages, at their offset in the page; larger frames take a page; a lend that
 * outgrows its small buffer moves to a page with what was written; a commit past the
 * buffer is dropped; and whatever the mix of sizes, lends and answers, no frame in flight
 * shares a byte with another (every frame arrives intact).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { TX_SMALL_BUF } from "../../src/netfront/tx.js";
import { checkFrame, fillFrame } from "./frames.js";
import { Harness } from "./harness.js";

function receiver(h: Harness): { seq: number; len: number }[] {
  const got: { seq: number; len: number }[] = [];
  h.dev.onReceive((b, off, len) => got.push({ seq: checkFrame(b, off, len), len }));
  return got;
}

test("small frames share pages: sixteen to a granted page, each lend at its own offset; a large frame takes a page", () => {
  const h = new Harness({ device: { txBuffers: 64 } });
  const got = receiver(h);
  h.echo[0].hold = true;
  const offs: number[] = [];
  for (let i = 0; i < 32; i++) {
    const at = h.dev.txBuffer(100);
    assert.ok(at >= 0);
    offs.push(at);
    fillFrame(h.dev.txMem.u8, at, 100, i);
    assert.equal(h.dev.txCommit(100, 0), true);
  }
  assert.equal(new Set(offs).size, 32, "every frame in flight has its own buffer");
  assert.ok(
    offs.every((o) => o % TX_SMALL_BUF === 0),
    "small buffers are TX_SMALL_BUF-aligned",
  );
  const pages = new Set(offs.map((o) => Math.floor(o / PAGE_SIZE)));
  assert.equal(pages.size, 32 / (PAGE_SIZE / TX_SMALL_BUF), "32 small frames in two pages");
  const big = h.dev.txBuffer(1500);
  assert.ok(big >= 0 && big % PAGE_SIZE === 0, "a 1500-byte frame gets a page");
  assert.ok(!pages.has(big / PAGE_SIZE), "not one of the small buffers' pages");
  fillFrame(h.dev.txMem.u8, big, 1500, 32);
  assert.equal(h.dev.txCommit(1500, 0), true);
  h.echo[0].hold = false;
  h.pump();
  assert.deepEqual(
    got.map((g) => g.seq),
    Array.from({ length: 33 }, (_, i) => i),
  );
  assert.deepEqual(h.fatals, []);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0, "the small buffers' pages are ended too");
});

test("a lend that outgrows its small buffer moves to a page holding what was written; a commit past the buffer is dropped", () => {
  const h = new Harness();
  const got = receiver(h);
  const a = h.dev.txBuffer(100);
  assert.ok(a >= 0);
  assert.equal(h.dev.txBuffer(TX_SMALL_BUF), a, "still fits: the same buffer");
  fillFrame(h.dev.txMem.u8, a, TX_SMALL_BUF, 7);
  const before = h.dev.txMem.u8.slice(a, a + TX_SMALL_BUF);
  const b = h.dev.txBuffer(1500);
  assert.ok(b >= 0 && b !== a && b % PAGE_SIZE === 0, "a page");
  assert.deepEqual(h.dev.txMem.u8.slice(b, b + TX_SMALL_BUF), before, "what was written came along");
  assert.equal(h.dev.txBuffer(64), b, "a page holds any smaller frame: the same lend");
  fillFrame(h.dev.txMem.u8, b, 1500, 8);
  assert.equal(h.dev.txCommit(1500, 0), true);
  // The caller lent a small buffer and wrote past it: the request would name the next
  // buffer's bytes, so the frame is dropped and counted.
  assert.ok(h.dev.txBuffer(100) >= 0);
  assert.equal(h.dev.txCommit(TX_SMALL_BUF + 1, 0), true);
  assert.equal(h.dev.counters(0)?.get("tx_dropped"), 1);
  h.pump();
  assert.deepEqual(
    got.map((g) => [g.seq, g.len]),
    [[8, 1500]],
  );
  assert.deepEqual(h.fatals, []);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

test("with every small buffer in flight, a small frame takes a page", () => {
  const h = new Harness({ device: { txBuffers: 64 } });
  const got = receiver(h);
  h.echo[0].hold = true;
  const offs: number[] = [];
  for (let i = 0; i < 64 + 4; i++) {
    const at = h.dev.txBuffer(60);
    assert.ok(at >= 0, `frame ${i}`);
    offs.push(at);
    fillFrame(h.dev.txMem.u8, at, 60, i);
    assert.equal(h.dev.txCommit(60, 0), true);
  }
  assert.equal(offs.slice(64).filter((o) => o % PAGE_SIZE === 0).length, 4, "the small buffers ran out");
  h.echo[0].hold = false;
  h.pump();
  assert.equal(got.length, 68);
  assert.ok(got.every((g, i) => g.seq === i));
});

type Op =
  | { t: "lend"; len: number }
  | { t: "copy"; len: number }
  | { t: "grow"; len: number }
  | { t: "answer" }
  | { t: "hold" };

const sizeArb = fc.oneof(
  fc.integer({ min: 18, max: TX_SMALL_BUF + 40 }),
  fc.constantFrom(TX_SMALL_BUF, TX_SMALL_BUF + 1, 1500, PAGE_SIZE),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: sizeArb.map((len) => ({ t: "lend", len }) as Op) },
  { weight: 3, arbitrary: sizeArb.map((len) => ({ t: "copy", len }) as Op) },
  { weight: 1, arbitrary: sizeArb.map((len) => ({ t: "grow", len }) as Op) },
  { weight: 2, arbitrary: fc.constant({ t: "answer" } as Op) },
  { weight: 1, arbitrary: fc.constant({ t: "hold" } as Op) },
);

test("property: whatever the sizes, lends, copies and answers, every frame sent arrives intact and in order", () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
      const h = new Harness({ device: { txBuffers: 32 } });
      const got = receiver(h);
      const sent: number[] = [];
      const buf = new Uint8Array(PAGE_SIZE);
      let seq = 0;
      for (const op of ops) {
        if (op.t === "answer") {
          h.echo[0].hold = false;
          h.pump();
          continue;
        }
        if (op.t === "hold") {
          h.echo[0].hold = true;
          continue;
        }
        if (op.t === "copy") {
          fillFrame(buf, 0, op.len, seq);
          if (h.dev.transmit(buf, op.len, 0)) sent.push(seq++);
          continue;
        }
        // A lend, filled and committed; "grow" first lends a small buffer, writes into it and
        // asks again for the frame's size.
        const first = h.dev.txBuffer(op.t === "grow" ? 60 : op.len);
        if (first < 0) continue;
        if (op.t === "grow") fillFrame(h.dev.txMem.u8, first, 60, 0xbad);
        const at = op.t === "grow" ? h.dev.txBuffer(op.len) : first;
        if (at < 0) continue;
        fillFrame(h.dev.txMem.u8, at, op.len, seq);
        assert.equal(h.dev.txCommit(op.len, 0), true);
        sent.push(seq++);
      }
      h.echo[0].hold = false;
      h.pump();
      assert.deepEqual(
        got.map((g) => g.seq),
        sent,
        "a frame was overwritten in flight (checkFrame gives -1) or lost",
      );
      assert.deepEqual(h.fatals, []);
      assert.equal(h.close(), 0);
      assert.equal(h.grants.liveGrants, 0);
    }),
    { numRuns: 150 },
  );
});

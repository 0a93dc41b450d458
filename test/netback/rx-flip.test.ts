import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { GrantOps } from "../../src/hv/grant-ops.js";
import { GrantTransfer } from "../../src/hv/grant-transfer.js";
import { gntSetFlags } from "../../src/wire/xen/grant.js";
import { buildFrame, MAC_BCAST, macOf } from "./frames.js";
import type { RxFrame } from "./front-sim.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

function send(a: Guest, frame: Uint8Array): void {
  assert.ok(a.front.send(frame, {}), "TX ring has room");
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
}

function collect(g: Guest): RxFrame[] {
  const out: RxFrame[] = [];
  g.front.receive(out);
  g.kick();
  return out;
}

/** Guest A copies, guest B flips; Domain-0 can transfer pages. */
function flipPair() {
  const t = new OneThread(1024);
  const xfer = new GrantTransfer(0, t.dom0.memory, (d) => (t.dom0.gnt as GrantOps).granting(d));
  (t.dom0 as unknown as { xfer: GrantTransfer }).xfer = xfer;
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest({ ...ALL_FEATURES, rxFlip: true });
  b.front.useFlip(b.grants);
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  for (const g of t.guests) send(g, buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 }));
  t.runDeferred();
  for (const g of t.guests) collect(g);
  return { t, a, b, xfer };
}

const SIZES = [60, 64, 127, 128, 129, 200, 1514, 4095, 4096, 4097, 9000, 16384, 32768, 60000, 65535];

test("flip: frames of 60 B to 64 KiB arrive intact by page transfer; both page counts unchanged", () => {
  const { t, a, b, xfer } = flipPair();
  const d0Pages = t.dom0.memory.nPages;
  const gPages = xfer.guestPages(b.domid);
  let seq = 0;
  for (const len of SIZES) {
    const before = xfer.transfers;
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, seq: seq++ });
    send(a, f);
    const got = collect(b);
    assert.equal(got.length, 1, `one frame of ${len}`);
    assert.deepEqual(got[0].data, f, `frame of ${len} intact`);
    assert.equal(xfer.transfers - before, Math.ceil(len / 4096), `${len} B: one transfer per page`);
    assert.equal(xfer.pages, d0Pages, "Domain-0 repopulated every page it gave");
    assert.equal(xfer.guestPages(b.domid), gPages, "the guest's count never grows");
  }
  assert.equal(b.front.flipMissing, 0);
  assert.equal(b.vif.queueCounters()[0].snapshot().grant_errors, 0);
  assert.equal(b.fatal.length, 0);
  assert.equal(
    b.grants.liveGrants,
    b.front.rx.nrEnts + b.front.tx.nrEnts + 2,
    "one offer per RX buffer, no leak",
  );
});

test("flip: offers revoked before the frame comes get an error response, counted; nothing throws", () => {
  const { a, b, xfer } = flipPair();
  // The guest withdraws every offer behind netback's back (its buffers stay posted).
  const offers = b.front.poolRefs.rx;
  for (const ref of offers) b.grants.endTransfer(ref);
  const before = xfer.transfers;
  send(a, buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 1514 }));
  const c = b.vif.queueCounters()[0].snapshot();
  assert.equal(c.grant_errors, 1, "the transfer into a revoked offer failed");
  assert.equal(xfer.transfers, before);
  assert.equal(xfer.pages, 1024, "Domain-0 kept its page");
  assert.equal(b.fatal.length, 0);
});

test("property: a flipper scribbling its accept-transfer entries never breaks Domain-0 or the accounting", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          slot: fc.nat(255),
          flags: fc.integer({ min: 0, max: 0xffff }),
          len: fc.constantFrom(60, 1514, 4097, 9000),
        }),
        {
          minLength: 1,
          maxLength: 12,
        },
      ),
      (ops) => {
        const { a, b, xfer } = flipPair();
        const gPages = xfer.guestPages(b.domid);
        for (const o of ops) {
          const refs = b.front.poolRefs.rx;
          const ref = refs[o.slot % refs.length];
          // Flags|domid word: type bits and transfer bits as the hostile guest likes.
          gntSetFlags(b.gtab, ref * 8, o.flags);
          const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: o.len });
          send(a, f);
          for (const g of collect(b)) assert.deepEqual(g.data, f, "what arrives is the frame sent");
          assert.equal(xfer.pages, 1024, "Domain-0 owns all its pages after each frame");
          assert.equal(xfer.guestPages(b.domid), gPages);
          assert.equal(b.fatal.length, 0);
        }
      },
    ),
    { numRuns: 40 },
  );
});

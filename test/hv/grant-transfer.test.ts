import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createActiveTable, grantingDomain } from "../../src/hv/grant-ops.js";
import {
  createGrantTable,
  GrantTable,
  TRANSFER_PENDING,
  TRANSFER_REVOKED,
} from "../../src/hv/grant-table.js";
import { GrantTransfer } from "../../src/hv/grant-transfer.js";
import { memoryOf } from "../../src/hv/memory.js";
import { memOf } from "../../src/wire/mem.js";
import {
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
  GTF_accept_transfer,
  GTF_transfer_committed,
  GTF_transfer_completed,
  gntFlags,
  gntSetFlags,
} from "../../src/wire/xen/grant.js";

const PAGE = 4096;

/** Guest 1 (16 pages, offers pages) and domain 0 (8 pages, transfers) in one thread. */
function setup() {
  const gMemSab = new SharedArrayBuffer(16 * PAGE);
  const gTabSab = createGrantTable(1);
  const guest = new GrantTable(1, memOf(gTabSab));
  const gMem = memoryOf(1, gMemSab);
  const d0 = memoryOf(0, new SharedArrayBuffer(8 * PAGE));
  const gd = grantingDomain(1, gMemSab, memOf(gTabSab), createActiveTable(512), gMem.mem);
  const xfer = new GrantTransfer(0, d0, (d) => (d === 1 ? gd : undefined));
  const flagsOf = (ref: number) => gntFlags(memOf(gTabSab), ref * 8);
  return { guest, gMem, d0, xfer, flagsOf, gTab: memOf(gTabSab) };
}

test("a transfer replaces the offered page with the caller's whole page and scrubs both", () => {
  const { guest, gMem, d0, xfer, flagsOf } = setup();
  gMem.mem.u8.fill(0xee, 5 * PAGE, 6 * PAGE); // what the guest's page held before
  d0.mem.u8.set([1, 2, 3, 4], 3 * PAGE); // a 4-byte frame at the start of dom0's page 3
  const ref = guest.offerTransfer(0, 5);
  assert.equal(flagsOf(ref), GTF_accept_transfer);
  assert.equal(xfer.transfer(3, 1, ref), GNTST_okay);
  assert.equal(flagsOf(ref), GTF_accept_transfer | GTF_transfer_committed | GTF_transfer_completed);
  assert.deepEqual([...gMem.mem.u8.subarray(5 * PAGE, 5 * PAGE + 4)], [1, 2, 3, 4]);
  assert.ok(
    gMem.mem.u8.subarray(5 * PAGE + 4, 6 * PAGE).every((b) => b === 0),
    "guest page scrubbed",
  );
  assert.ok(
    d0.mem.u8.subarray(3 * PAGE, 4 * PAGE).every((b) => b === 0),
    "dom0 slot scrubbed",
  );
  assert.equal(guest.endTransfer(ref), 5);
  assert.equal(guest.liveGrants, 0);
  assert.equal(xfer.pages, 7);
  assert.equal(xfer.guestPages(1), 16);
});

test("a page once transferred is not the caller's until it repopulates it", () => {
  const { guest, xfer, flagsOf } = setup();
  const a = guest.offerTransfer(0, 1);
  const b = guest.offerTransfer(0, 2);
  assert.equal(xfer.transfer(4, 1, a), GNTST_okay);
  assert.equal(xfer.owns(4), false);
  assert.equal(xfer.transfer(4, 1, b), GNTST_bad_page, "never owned by two domains");
  assert.equal(flagsOf(b), GTF_accept_transfer, "a refused transfer leaves the offer alone");
  assert.equal(xfer.populate(4), GNTST_okay);
  assert.equal(xfer.populate(4), GNTST_bad_page, "populating an owned page");
  assert.equal(xfer.pages, 8);
  assert.equal(xfer.transfer(4, 1, b), GNTST_okay);
  assert.equal(xfer.populate(99), GNTST_bad_page);
  assert.equal(xfer.transfer(99, 1, b), GNTST_bad_page);
});

test("Xen's statuses: unknown domain, ref out of range, entry not offered, revoked, reused", () => {
  const { guest, gTab, xfer, flagsOf } = setup();
  const ref = guest.offerTransfer(0, 3);
  assert.equal(xfer.transfer(0, 7, ref), GNTST_bad_domain);
  assert.equal(xfer.transfer(0, 0, ref), GNTST_bad_domain, "no transfer to oneself");
  assert.equal(xfer.transfer(0, 1, 512), GNTST_bad_gntref);
  assert.equal(xfer.transfer(0, 1, -1), GNTST_bad_gntref);
  // Not offered: an access grant, an invalid entry, an offer to another domain.
  const acc = guest.grantAccess(0, 4, false);
  assert.equal(xfer.transfer(0, 1, acc), GNTST_general_error);
  assert.equal(xfer.transfer(0, 1, 100), GNTST_general_error);
  const other = guest.offerTransfer(2, 6);
  assert.equal(xfer.transfer(0, 1, other), GNTST_general_error);
  // A frame outside the guest's memory.
  const bad = guest.offerTransfer(0, 1000);
  assert.equal(xfer.transfer(0, 1, bad), GNTST_general_error);
  // Revoked before any transfer: the page stays the guest's and a transfer fails.
  assert.equal(guest.endTransfer(ref), TRANSFER_REVOKED);
  assert.equal(xfer.transfer(0, 1, ref), GNTST_general_error);
  // Reused: a completed entry takes no second page.
  const r2 = guest.offerTransfer(0, 3);
  assert.equal(xfer.transfer(1, 1, r2), GNTST_okay);
  assert.equal(xfer.transfer(2, 1, r2), GNTST_general_error);
  assert.equal(xfer.owns(2), true, "a failed transfer keeps the caller's page");
  // Committed but not complete (as seen between the two steps): the guest waits.
  const r3 = guest.offerTransfer(0, 7);
  gntSetFlags(gTab, r3 * 8, GTF_accept_transfer | GTF_transfer_committed);
  assert.equal(guest.endTransfer(r3), TRANSFER_PENDING);
  assert.equal(flagsOf(r3), GTF_accept_transfer | GTF_transfer_committed);
  assert.equal(xfer.guestPages(1), 16);
  assert.equal(xfer.pages, 7);
});

test("property: any mix of offers, revokes, hostile and honest transfers keeps the accounting", () => {
  const op = fc.oneof(
    fc.record({
      k: fc.constant("offer" as const),
      frame: fc.integer({ min: 0, max: 17 }),
      to: fc.constantFrom(0, 0, 0, 2),
    }),
    fc.record({ k: fc.constant("end" as const), i: fc.nat() }),
    fc.record({
      k: fc.constant("xfer" as const),
      page: fc.integer({ min: -1, max: 8 }),
      ref: fc.integer({ min: 0, max: 40 }),
    }),
    fc.record({ k: fc.constant("populate" as const), page: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      k: fc.constant("scribble" as const),
      ref: fc.integer({ min: 0, max: 40 }),
      flags: fc.integer({ min: 0, max: 0xffff }),
    }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const { guest, gMem, d0, xfer, gTab } = setup();
      const offers: number[] = [];
      let stamp = 1;
      for (const o of ops) {
        if (o.k === "offer") {
          const r = guest.offerTransfer(o.to, o.frame);
          if (r >= 0) offers.push(r);
        } else if (o.k === "end" && offers.length > 0) {
          const i = o.i % offers.length;
          const r = guest.endTransfer(offers[i]);
          if (r !== TRANSFER_PENDING) offers.splice(i, 1);
        } else if (o.k === "xfer") {
          const before = { d0: xfer.pages, g: xfer.guestPages(1), owned: xfer.owns(o.page) };
          if (before.owned) d0.mem.u8.fill(stamp & 0xff, o.page * PAGE, (o.page + 1) * PAGE);
          const word = gTab.u32[o.ref * 2];
          const frame = gTab.u32[o.ref * 2 + 1];
          const st = xfer.transfer(o.page, 1, o.ref);
          const offered = (word & 0xffff) === GTF_accept_transfer && word >>> 16 === 0 && frame < 16;
          assert.equal(st === GNTST_okay, before.owned && offered, `status ${st}`);
          assert.equal(xfer.guestPages(1), 16, "a transfer never grows the guest");
          if (st === GNTST_okay) {
            assert.equal(xfer.pages, before.d0 - 1);
            assert.equal(xfer.owns(o.page), false);
            assert.ok(
              gMem.mem.u8.subarray(frame * PAGE, (frame + 1) * PAGE).every((b) => b === (stamp & 0xff)),
            );
            assert.ok(d0.mem.u8.subarray(o.page * PAGE, (o.page + 1) * PAGE).every((b) => b === 0));
            stamp++;
          } else {
            assert.equal(xfer.pages, before.d0);
            assert.equal(gTab.u32[o.ref * 2], word, "a refused transfer leaves the entry alone");
          }
        } else if (o.k === "populate") {
          const owned = xfer.owns(o.page);
          assert.equal(xfer.populate(o.page) === GNTST_okay, !owned);
        } else if (o.k === "scribble") {
          gntSetFlags(gTab, o.ref * 8, o.flags);
        }
        // Conservation: the caller's count is its pages minus what it gave and did not get back.
        let owned = 0;
        for (let p = 0; p < 8; p++) owned += xfer.owns(p) ? 1 : 0;
        assert.equal(xfer.pages, owned);
      }
    }),
    { numRuns: 300 },
  );
});

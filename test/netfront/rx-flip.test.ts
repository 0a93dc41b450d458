import assert from "node:assert/strict";
import { test } from "node:test";
import { createActiveTable, grantingDomain } from "../../src/hv/grant-ops.js";
import { createGrantTable, GrantTable } from "../../src/hv/grant-table.js";
import { GrantTransfer } from "../../src/hv/grant-transfer.js";
import { memoryOf, PageAllocator } from "../../src/hv/memory.js";
import {
  endOffers,
  FLIP_EMPTY,
  FLIP_FILLED,
  FLIP_PARKED,
  reoffer,
  settleOffer,
} from "../../src/netfront/rx-flip.js";
import { memOf } from "../../src/wire/mem.js";
import {
  GTF_accept_transfer,
  GTF_transfer_committed,
  GTF_transfer_completed,
  gntSetFlags,
  gntSetFrame,
} from "../../src/wire/xen/grant.js";

const PAGE = 4096;

function setup() {
  const sab = new SharedArrayBuffer(16 * PAGE);
  const tab = createGrantTable(1);
  const grants = new GrantTable(1, memOf(tab));
  const pages = new PageAllocator(16);
  const dom = { grants, pages };
  const d0 = memoryOf(0, new SharedArrayBuffer(4 * PAGE));
  const gd = grantingDomain(1, sab, memOf(tab), createActiveTable(512), memoryOf(1, sab).mem);
  const xfer = new GrantTransfer(0, d0, (d) => (d === 1 ? gd : undefined));
  const bufPages = pages.allocMany(4)!;
  const refs = Int32Array.from(bufPages, (p) => grants.offerTransfer(0, p));
  return { dom, grants, pages, xfer, bufPages, refs, tab: memOf(tab) };
}

test("a buffer whose offer got a page is filled; one the backend skipped is empty and offered again", () => {
  const { dom, xfer, bufPages, refs, grants } = setup();
  assert.equal(xfer.transfer(0, 1, refs[0]), 0);
  assert.equal(settleOffer(dom, refs, bufPages, 0), FLIP_FILLED);
  assert.equal(settleOffer(dom, refs, bufPages, 1), FLIP_EMPTY, "no transfer came (an extra slot)");
  assert.equal(refs[0], -1);
  assert.equal(refs[1], -1);
  assert.ok(reoffer(dom, 0, refs, bufPages, 0) && reoffer(dom, 0, refs, bufPages, 1));
  assert.equal(xfer.transfer(1, 1, refs[1]), 0, "the new offer takes a page");
  assert.equal(grants.liveGrants, 4);
});

test("a hostile backend: a completed entry naming another frame is empty; a committed one is parked, not reposted", () => {
  const { dom, bufPages, refs, tab, pages } = setup();
  gntSetFrame(tab, refs[2] * 8, 9);
  gntSetFlags(tab, refs[2] * 8, GTF_accept_transfer | GTF_transfer_committed | GTF_transfer_completed);
  assert.equal(settleOffer(dom, refs, bufPages, 2), FLIP_EMPTY);
  gntSetFlags(tab, refs[3] * 8, GTF_accept_transfer | GTF_transfer_committed);
  assert.equal(settleOffer(dom, refs, bufPages, 3), FLIP_PARKED);
  assert.notEqual(refs[3], -1, "a parked buffer keeps its ref");
  const free = pages.freePages;
  assert.equal(endOffers(dom, refs, bufPages), 1, "the parked page stays out at close");
  assert.equal(pages.freePages, free + 3);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ManualTimers } from "../../src/hv/timer.js";
import {
  DEFERRED_FIRST_RETRY_MS,
  DEFERRED_MAX_RETRY_MS,
  DeferredGrants,
  endPoolGrants,
} from "../../src/netfront/pool-grants.js";
import { GNTTAB_NR_RESERVED_ENTRIES } from "../../src/wire/xen/grant.js";
import { Harness } from "./harness.js";

/** The queue's buffer-pool grants (every live grant but the rings'), in the order granted. */
function poolRefs(h: Harness): number[] {
  const refs: number[] = [];
  for (let ref = GNTTAB_NR_RESERVED_ENTRIES; ref < h.grants.nEntries; ref++) {
    if (h.ringRefs.includes(ref)) continue;
    const handle = h.backendMap(ref);
    if (handle < 0) continue;
    h.backendUnmap(handle);
    refs.push(ref);
  }
  return refs;
}

/** The pages in the guest's allocator (taken, all of them, then given back). */
function freeSet(h: Harness): Set<number> {
  const all = h.dom.pages.allocMany(h.dom.pages.freePages) as number[];
  for (const p of all) h.dom.pages.free(p);
  return new Set(all);
}

function isFree(h: Harness, page: number): boolean {
  return freeSet(h).has(page);
}

/** The guest page behind each grant (a backend mapping shows it). */
function pagesOf(h: Harness, refs: readonly number[]): number[] {
  return refs.map((ref) => {
    const handle = h.backendMap(ref);
    const page = h.backendPageOf(handle);
    h.backendUnmap(handle);
    return page;
  });
}

test("TX and RX pool grants the backend keeps mapped across a reset are deferred, then ended and their pages reused when it lets go", () => {
  const h = new Harness();
  const refs = poolRefs(h);
  const pages = pagesOf(h, refs);
  assert.ok(refs.length >= 128, `${refs.length} pool grants`);
  // TX's pool is granted at attach, RX's at start: the first and the last.
  const held = [refs[0], refs[refs.length - 1]].map((ref) => {
    const handle = h.backendMap(ref);
    assert.ok(handle >= 0);
    return { ref, handle, page: h.backendPageOf(handle) };
  });
  const live0 = h.grants.liveGrants;
  assert.equal(h.queues[0].close(), 2, "two grants deferred");
  const d = DeferredGrants.of(h.dom);
  assert.equal(d.pending, 2);
  const free = freeSet(h);
  const heldPages = held.map((g) => g.page);
  assert.ok(
    pages.every((p) => heldPages.includes(p) || free.has(p)),
    "every other pool page came back",
  );
  const free1 = h.dom.pages.freePages;
  assert.equal(h.grants.liveGrants, live0 - (refs.length - 2));
  for (const g of held) assert.ok(!isFree(h, g.page), `page ${g.page} is not reused while mapped`);

  h.timers.advance(10_000);
  assert.equal(d.pending, 2, "still mapped: still pending");
  assert.equal(d.reclaimed, 0);

  assert.equal(h.backendUnmap(held[0].handle), 0);
  h.timers.advance(DEFERRED_MAX_RETRY_MS);
  assert.equal(d.pending, 1);
  assert.equal(d.reclaimed, 1);
  const again = h.dom.pages.alloc();
  assert.equal(again, held[0].page, "the TX page is back: the next page handed out");
  h.dom.pages.free(again);

  // The RX one stays mapped for a minute: never ended, never leaked, always counted.
  h.timers.advance(60_000);
  assert.equal(d.pending, 1);
  assert.ok(!isFree(h, held[1].page));
  assert.equal(h.timers.active, 1, "one retry timer, not one per grant or per tick");
  assert.equal(h.backendUnmap(held[1].handle), 0, "the backend's mapping stayed valid");
  h.timers.advance(DEFERRED_MAX_RETRY_MS);
  assert.equal(d.pending, 0);
  assert.equal(d.reclaimed, 2);
  assert.equal(h.timers.active, 0, "no timer left once the list is empty");
  assert.equal(h.dom.pages.freePages, free1 + 2);
});

test("deferred grants are retried at 50 ms, doubling to once a second while the backend holds them", () => {
  const timers = new ManualTimers();
  let tries = 0;
  let mapped = true;
  const freed: number[] = [];
  const dom = {
    grants: {
      endAccess: (_ref: number) => {
        tries++;
        return !mapped;
      },
    },
    pages: { free: (p: number) => void freed.push(p) },
    timers,
  } as unknown as Parameters<typeof endPoolGrants>[0];
  assert.equal(endPoolGrants(dom, Int32Array.of(42), [7]), 1);
  const at: number[] = [];
  for (let ms = 0; ms < 5000; ms++) {
    const before = tries;
    timers.advance(1);
    if (tries > before) at.push(timers.now);
  }
  const gaps = at.map((t, i) => t - (i === 0 ? 0 : at[i - 1]));
  assert.deepEqual(gaps.slice(0, 7), [DEFERRED_FIRST_RETRY_MS, 100, 200, 400, 800, 1000, 1000]);
  mapped = false;
  timers.advance(DEFERRED_MAX_RETRY_MS);
  assert.deepEqual(freed, [7]);
  assert.equal(DeferredGrants.of(dom).pending, 0);
  assert.equal(DeferredGrants.of(dom).reclaimed, 1);
});

test("property: whatever the backend keeps mapped and lets go, in any order, no page is reused while mapped and all come back", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (picks, order) => {
        const h = new Harness({ guestPages: 1024 });
        const refs = poolRefs(h);
        const kept = new Map<number, { handle: number; page: number }>();
        for (const p of picks) {
          const ref = refs[p % refs.length];
          if (kept.has(ref)) continue;
          const handle = h.backendMap(ref);
          kept.set(ref, { handle, page: h.backendPageOf(handle) });
        }
        h.queues[0].close();
        const free0 = h.dom.pages.freePages;
        const d = DeferredGrants.of(h.dom);
        const left = [...kept.values()];
        for (const o of order) {
          if (left.length === 0) break;
          const [g] = left.splice(o % left.length, 1);
          assert.equal(h.backendUnmap(g.handle), 0);
          h.timers.advance(DEFERRED_MAX_RETRY_MS);
          assert.equal(d.pending, left.length);
          for (const l of left) assert.ok(!isFree(h, l.page));
          assert.ok(isFree(h, g.page));
        }
        for (const g of left) h.backendUnmap(g.handle);
        h.timers.advance(DEFERRED_MAX_RETRY_MS);
        assert.equal(d.pending, 0);
        assert.equal(d.reclaimed, kept.size);
        assert.equal(h.dom.pages.freePages, free0 + kept.size);
      },
    ),
    { numRuns: 30 },
  );
});

/**
 * A netmap passthrough vif against a hostile guest, in one thread: the guest owns its ring
 * words, slots and status block and rewrites them at will. Domain-0 never throws, never
 * writes outside that guest's area, keeps forwarding for the other vifs, drops and counts
 * bad slots, and disables only that vif, with a reason, when its head or cur is impossible.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { PtKeys } from "../../src/netback/pt-keys.js";
import { RING_CUR, RING_HEAD, RING_SLOTS, RING_TAIL } from "../../src/netmap/layout.js";
import {
  CSB_GUEST_NEED_KICK,
  PT_CSB_RX,
  PT_CSB_TX,
  PT_DEFAULT_SLOTS,
  ptDirPages,
  ptLayout,
} from "../../src/netmap/pt-layout.js";
import { frame, type PtGuest, PtWorld } from "./pt-harness.js";

/** The ring-level cases run at 512 slots: a smaller area keeps the property runs quick. */
const SLOTS = 512;
const small = { slots: SLOTS };
const lay = ptLayout(SLOTS);
const PAGE = 4096;

/** Sends `n` frames from `g` to `to` tagged base..base+n-1 and runs everything. */
function send(w: PtWorld, g: PtGuest, to: number, n: number, base: number): void {
  for (let i = 0; i < n; i++) assert.ok(g.dev.transmit(frame(to, g.mac, base + i), 60, 0));
  w.pump();
}

test("passthrough: frames cross between two guests with one copy each, in order, counted", () => {
  const w = new PtWorld();
  const a = w.addGuest(small);
  const b = w.addGuest(small);
  send(w, a, b.mac, 100, 1000);
  assert.deepEqual(
    b.got.map((x) => x.tag),
    Array.from({ length: 100 }, (_, i) => 1000 + i),
  );
  send(w, b, a.mac, 3, 7);
  assert.deepEqual(
    a.got.map((x) => x.tag),
    [7, 8, 9],
  );
  const qa = a.back.queueCounters()[0]!;
  assert.equal(qa.get("rx_packets"), 100);
  assert.equal(qa.get("tx_packets"), 3);
  assert.equal(a.back.counters.get("txErrors"), 0);
});

test("passthrough: more frames than the ring holds go through when the receiver keeps up", () => {
  const w = new PtWorld();
  const a = w.addGuest(small);
  const b = w.addGuest(small);
  let sent = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 200; i++) if (a.dev.transmit(frame(b.mac, a.mac, sent), 60, 0)) sent++;
    w.pump();
  }
  assert.equal(sent, 4000);
  assert.equal(b.got.length, 4000);
  assert.ok(b.got.every((x, i) => x.tag === i));
});

test("passthrough: an impossible TX head disables that vif alone, with its reason", () => {
  const w = new PtWorld();
  const bad = w.addGuest(small);
  const b = w.addGuest(small);
  const c = w.addGuest(small);
  const txRing = bad.areaOff + PAGE + lay.txRing;
  bad.mem.u32[(txRing + RING_HEAD) >>> 2] = SLOTS + 7;
  w.kick(bad);
  w.pump();
  assert.equal(bad.back.disabled, true);
  assert.equal(bad.backFatal.length, 1);
  assert.match(bad.backFatal[0]!, /txsync: head\/cur/);
  send(w, b, c.mac, 10, 50);
  assert.equal(c.got.length, 10, "other vifs keep working");
  assert.equal(b.back.disabled, false);
});

test("passthrough: a slot naming a buffer outside the area, or too long, is dropped and counted", () => {
  const w = new PtWorld();
  const a = w.addGuest(small);
  const b = w.addGuest(small);
  const region = a.areaOff + PAGE;
  const slot0 = region + lay.txRing + RING_SLOTS;
  // The guest's device writes its own buffer into the slot: write the frame, then break it
  // before the sync, as a guest racing its own driver would.
  assert.ok(a.dev.transmit(frame(b.mac, a.mac, 1), 60, 0));
  a.mem.u32[slot0 >>> 2] = lay.spec.nBufs + 100;
  assert.ok(a.dev.transmit(frame(b.mac, a.mac, 2), 60, 0));
  a.mem.u16[(slot0 + 16 + 4) >>> 1] = 5000;
  assert.ok(a.dev.transmit(frame(b.mac, a.mac, 3), 60, 0));
  w.pump();
  assert.deepEqual(
    b.got.map((x) => x.tag),
    [3],
  );
  assert.equal(a.back.counters.get("txErrors"), 2);
  assert.equal(a.back.disabled, false);
});

/** A word of the guest's area worth scribbling on: ring positions, slots, status words. */
const target = fc.oneof(
  fc
    .constantFrom(
      lay.txRing + RING_HEAD,
      lay.txRing + RING_CUR,
      lay.txRing + RING_TAIL,
      lay.rxRing + RING_HEAD,
      lay.rxRing + RING_CUR,
      lay.rxRing + RING_TAIL,
    )
    .map((o) => PAGE + o),
  fc.integer({ min: 0, max: SLOTS * 4 - 1 }).map((i) => PAGE + lay.txRing + RING_SLOTS + i * 4),
  fc.integer({ min: 0, max: SLOTS * 4 - 1 }).map((i) => PAGE + lay.rxRing + RING_SLOTS + i * 4),
  fc.constantFrom(PT_CSB_TX * 4, PT_CSB_TX * 4 + 4, PT_CSB_RX * 4, PT_CSB_RX * 4 + 4),
  fc.integer({ min: 0, max: lay.pages * 1024 - 1 }).map((i) => i * 4),
);
const value = fc.oneof(
  fc.integer({ min: 0, max: SLOTS + 2 }),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 0xffffffff, lay.spec.nBufs - 1, lay.spec.nBufs, 0x20 << 16),
);
const step = fc.oneof(
  fc.record({ t: fc.constant("scribble" as const), at: target, v: value }),
  fc.record({
    t: fc.constant("send" as const),
    n: fc.integer({ min: 1, max: 600 }),
    to: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ t: fc.constant("kick" as const) }),
);

test("passthrough property: whatever a guest writes in its area, Domain-0 never throws, never writes outside it, and the other vifs go on", () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
      const w = new PtWorld();
      const bad = w.addGuest(small);
      const b = w.addGuest(small);
      const c = w.addGuest(small);
      const outside = (g: PtGuest): Uint8Array => {
        const copy = g.mem.u8.slice();
        copy.fill(0, g.areaOff, g.areaOff + g.areaBytes);
        return copy;
      };
      let tag = 1;
      for (const s of steps) {
        const before = [outside(bad), outside(b), outside(c)];
        if (s.t === "scribble") bad.mem.u32[(bad.areaOff + s.at) >>> 2] = s.v;
        else if (s.t === "send") {
          const to = [b.mac, c.mac, 0xffffffffffff][s.to]!;
          for (let i = 0; i < s.n; i++) bad.dev.transmit(frame(to, bad.mac, tag++), 60, 0);
        } else w.kick(bad);
        w.pump();
        const after = [outside(bad), outside(b), outside(c)];
        for (let i = 0; i < 3; i++) assert.deepEqual(after[i], before[i], `memory outside area ${i}`);
      }
      // The other vifs still forward, whatever became of the hostile one.
      const n0 = c.got.filter((x) => x.tag >= 0x10000000).length;
      send(w, b, c.mac, 50, 0x10000000);
      const n1 = c.got.filter((x) => x.tag >= 0x10000000).length;
      assert.equal(n1 - n0, 50);
      assert.equal(b.back.disabled, false);
      assert.equal(c.back.disabled, false);
      // A disabled vif said why.
      if (bad.back.disabled) assert.ok(bad.backFatal.length === 1 && bad.backFatal[0]!.length > 0);
    }),
    { numRuns: 40 },
  );
});

test("passthrough: txBurst fills many slots from one frame with one sync and stops at a full ring", () => {
  const w = new PtWorld();
  const a = w.addGuest(small);
  const b = w.addGuest(small);
  const f = frame(b.mac, a.mac, 77);
  const kicks0 = a.dev.counters.get("kicksSent");
  assert.equal(a.dev.txBurst(f, 0, 60, 300), 300);
  // One publication: at most one kick for the whole burst.
  assert.ok(a.dev.counters.get("kicksSent") - kicks0 <= 1);
  w.pump();
  assert.equal(b.got.length, 300);
  assert.ok(b.got.every((x) => x.tag === 77));
  // Domain-0 not running: the ring takes slots - 1 frames, then refuses.
  const n = a.dev.txBurst(f, 0, 60, 10_000);
  assert.equal(n, SLOTS - 1);
  assert.equal(a.dev.txBurst(f, 0, 60, 1), 0);
  w.pump();
  assert.equal(b.got.length, 300 + n);
});

test("passthrough: a full TX ring is counted once, however often the sender asks (a lend, then the same frame by copy)", () => {
  const w = new PtWorld();
  const a = w.addGuest(small);
  const b = w.addGuest(small);
  const f = frame(b.mac, a.mac, 5);
  const full0 = a.dev.counters.get("txFull");
  // Domain-0 not running: the ring takes slots - 1 frames.
  assert.equal(a.dev.txBurst(f, 0, 60, 10_000), SLOTS - 1);
  assert.equal(a.dev.txBuffer(60), -1, "the lend is refused");
  assert.equal(a.dev.transmit(f, 60, 0), false, "and so is the copy of the same frame");
  assert.equal(a.dev.transmit(f, 60, 0), false);
  assert.equal(a.dev.counters.get("txFull") - full0, 1);
  w.pump();
  assert.ok(a.dev.transmit(f, 60, 0), "room again");
  assert.equal(a.dev.txBurst(f, 0, 60, 10_000) > 0, true);
  assert.equal(a.dev.transmit(f, 60, 0), false);
  assert.equal(a.dev.counters.get("txFull") - full0, 2, "filling again is a new event");
});

// --- bigger rings: a page directory of several pages -------------------------------------

for (const slots of [512, 1024, 2048, 4096]) {
  test(`passthrough ${slots} slots: ${ptDirPages(ptLayout(slots).pages)} directory pages; frames cross, the ring holds slots - 1, every page is mapped and unmapped`, () => {
    const w = new PtWorld();
    const a = w.addGuest({ slots });
    const b = w.addGuest({ slots });
    const l = ptLayout(slots);
    assert.equal(a.keys.dirRefs.length, ptDirPages(l.pages));
    assert.equal(w.gnt.liveMappings, 2 * l.pages);
    for (let i = 0; i < 6; i++) send(w, a, b.mac, 500, 1 + i * 500);
    assert.deepEqual(
      b.got.map((x) => x.tag),
      Array.from({ length: 3000 }, (_, i) => 1 + i),
    );
    // Domain-0 not running: the ring takes slots - 1 frames, all of which then cross.
    const f = frame(b.mac, a.mac, 9);
    assert.equal(a.dev.txBurst(f, 0, 60, 100_000), slots - 1);
    w.pump();
    assert.equal(b.got.length, 3000 + slots - 1);
    // The last slots' buffers are in the last pages of the area: a frame from there arrives whole.
    assert.ok(b.got.slice(3000).every((x) => x.tag === 9 && x.len === 60));
    a.backQ.close();
    b.back.close();
    assert.equal(w.gnt.liveMappings, 0, "every page unmapped");
  });
}

test("passthrough: bad directory keys are refused with a reason, leaving no mapping behind", () => {
  const w = new PtWorld();
  const g = w.addGuest({ slots: 2048 });
  const k = g.keys;
  assert.equal(k.dirRefs.length, 3);
  const live = w.gnt.liveMappings;
  const refuse = (keys: PtKeys, why: RegExp): void => {
    const r = w.tryAttach(g.domid, keys);
    assert.ok(r !== null, `refused: ${JSON.stringify(keys.dirRefs)}`);
    assert.match(r, why);
    assert.equal(w.gnt.liveMappings, live, "nothing left mapped");
  };
  // The real keys attach (a second mapping of the same area), and detach again.
  assert.equal(w.tryAttach(g.domid, k), null);
  assert.equal(w.gnt.liveMappings, live);
  const [d0, d1, d2] = k.dirRefs as [number, number, number];
  // Counts that do not match the slot count.
  refuse({ ...k, dirRefs: [d0, d1] }, /2 directory refs for 2048 slots/);
  refuse({ ...k, dirRefs: [d0, d1, d2, d2 + 1] }, /4 directory refs/);
  refuse({ ...k, pages: k.pages - 1 }, /pages/);
  refuse({ ...k, slots: 1024 }, /directory refs for 1024 slots/);
  // A bogus ref: never granted, or past the table.
  refuse({ ...k, dirRefs: [d0, 1_000_000, d2] }, /directory page 1 gref 1000000/);
  refuse({ ...k, dirRefs: [d0, d1, 0xffffffff] }, /directory page 2/);
  // A duplicate: the second directory page names the first's pages again.
  refuse({ ...k, dirRefs: [d0, d0, d2] }, /page 1024 is not contiguous/);
  // A page granted to another domain, not Domain-0.
  const p = g.pages.alloc();
  const foreign = g.grants.grantAccess(7, p, true);
  refuse({ ...k, dirRefs: [d0, foreign, d2] }, /directory page 1 gref/);
  // A directory of the guest's own making whose pages are not consecutive: two refs swapped.
  const own = g.pages.alloc();
  const ownRef = g.grants.grantAccess(0, own, true);
  const refs = new Uint32Array(g.mem.buffer, dirPageOff(w, g, 1), 1024).slice();
  [refs[5], refs[6]] = [refs[6]!, refs[5]!];
  g.mem.u32.set(refs, (own * PAGE) >>> 2);
  refuse({ ...k, dirRefs: [d0, ownRef, d2] }, /page 1029 is not contiguous/);
  // The same directory page granted twice under two refs: distinct refs, one page.
  const again = g.grants.grantAccess(0, pageOfRef(w, g, d1), true);
  refuse({ ...k, dirRefs: [d0, d1, again] }, /page 2048 is not contiguous/);
  // The other vif still forwards.
  const b = w.addGuest(small);
  send(w, b, g.mac, 10, 3);
  assert.equal(g.got.length, 10);
});

test("passthrough: an area the guest's mapping bound cannot hold is refused up front, with the bound named", () => {
  const w = new PtWorld();
  // Entries enough for one mapping of the area, not two.
  const pages = ptLayout(2048).pages;
  const g = w.addGuest({ slots: 2048, memPages: 2200, grantFrames: 5 });
  const live = w.gnt.liveMappings;
  const r = w.tryAttach(g.domid, g.keys);
  assert.ok(r !== null);
  assert.match(r, new RegExp(`${pages} pages exceed the guest's mapping bound \\(${pages} of 2560 held\\)`));
  assert.equal(w.gnt.liveMappings, live);
});

test("passthrough property: whatever directory keys and pages a guest offers, Domain-0 attaches the true area or refuses, maps nothing it keeps, and never throws otherwise", () => {
  const w = new PtWorld();
  const g = w.addGuest({ slots: 1024 });
  const b = w.addGuest(small);
  const k = g.keys;
  const live = w.gnt.liveMappings;
  // Spare pages the property fills with directories of its making, granted to Domain-0.
  const spare = [g.pages.alloc(), g.pages.alloc()];
  const spareRefs = spare.map((p) => g.grants.grantAccess(0, p, true));
  const realDir = new Uint32Array(g.mem.buffer, dirPageOff(w, g, 0), 1024).slice();
  const refChoice = fc.oneof(
    fc.constantFrom(...k.dirRefs, ...spareRefs),
    fc.integer({ min: 0, max: 3000 }),
    fc.constant(0xffffffff),
  );
  const entry = fc.oneof(
    fc.integer({ min: 0, max: 1023 }).map((i) => realDir[i]!),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
  fc.assert(
    fc.property(
      fc.array(refChoice, { minLength: 0, maxLength: 4 }),
      fc.array(
        fc.record({ page: fc.integer({ min: 0, max: 1 }), at: fc.integer({ min: 0, max: 1023 }), v: entry }),
      ),
      fc.constantFrom(k.pages, k.pages + 1, 0),
      (dirRefs, writes, pages) => {
        for (const s of spare) g.mem.u32.set(realDir, (s * PAGE) >>> 2);
        for (const x of writes) g.mem.u32[((spare[x.page]! * PAGE) >>> 2) + x.at] = x.v;
        const r = w.tryAttach(g.domid, { ...k, dirRefs, pages });
        assert.equal(w.gnt.liveMappings, live);
        if (r === null) {
          // Only a directory that names the true area's pages, in order, attaches.
          assert.equal(pages, k.pages);
          assert.equal(dirRefs.length, 2);
          const named = dirRefs.flatMap((ref, i) => {
            const at = (pageOfRef(w, g, ref) * PAGE) >>> 2;
            return Array.from(g.mem.u32.subarray(at, at + Math.min(1024, k.pages - i * 1024)), (x) =>
              pageOfRef(w, g, x),
            );
          });
          assert.deepEqual(
            named,
            Array.from({ length: k.pages }, (_, i) => g.areaOff / PAGE + i),
          );
        } else assert.match(r, /passthrough: /);
      },
    ),
    { numRuns: 200 },
  );
  send(w, b, g.mac, 10, 3);
  assert.equal(g.got.length, 10);
});

/** Byte offset, in the guest's memory, of page `i` of its page directory. */
function dirPageOff(w: PtWorld, g: PtGuest, i: number): number {
  return pageOfRef(w, g, g.keys.dirRefs[i]!) * PAGE;
}

/** The guest page a ref of `g` grants to Domain-0 (found by mapping it). */
function pageOfRef(w: PtWorld, g: PtGuest, ref: number): number {
  const h = w.gnt.map(g.domid, ref, true);
  assert.ok(h >= 0);
  const off = w.gnt.mappedOff(h);
  w.gnt.unmap(h);
  return off / PAGE;
}

test("passthrough: a receiver that sleeps again at once is woken once per batch, not every 1024 frames VALE delivers", () => {
  const w = new PtWorld();
  const a = w.addGuest();
  const b = w.addGuest();
  const n = PT_DEFAULT_SLOTS - 1;
  assert.ok(n > 1024, "a batch VALE delivers in more than one go");
  // The receiver drains as soon as it is woken and asks for the next kick: its flag is set
  // again by every event Domain-0 sends it.
  const flag = (b.areaOff >>> 2) + PT_CSB_RX + CSB_GUEST_NEED_KICK;
  let kicks = 0;
  w.onDom0Send = (port) => {
    if (port !== b.domid) return;
    kicks++;
    b.mem.i32[flag] = 1;
  };
  b.mem.i32[flag] = 1;
  assert.equal(a.dev.txBurst(frame(b.mac, a.mac, 4), 0, 60, n), n);
  w.pump();
  assert.equal(b.got.length, n);
  assert.equal(kicks, 1);
  // One frame alone is not held past its batch: the receiver is woken for it.
  kicks = 0;
  send(w, a, b.mac, 1, 5);
  assert.equal(b.got.length, n + 1);
  assert.equal(kicks, 1);
});

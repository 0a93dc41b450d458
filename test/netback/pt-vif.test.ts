/**
 * A netmap passthrough vif against a hostile guest, in one thread: the guest owns its ring
 * words, slots and status block and rewrites them at will. Domain-0 never throws, never
 * writes outside that guest's area, keeps forwarding for the other vifs, drops and counts
 * bad slots, and disables only that vif, with a reason, when its head or cur is impossible.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RING_CUR, RING_HEAD, RING_SLOTS, RING_TAIL } from "../../src/netmap/layout.js";
import { PT_CSB_RX, PT_CSB_TX, PT_DEFAULT_SLOTS, ptLayout } from "../../src/netmap/pt-layout.js";
import { frame, type PtGuest, PtWorld } from "./pt-harness.js";

const lay = ptLayout(PT_DEFAULT_SLOTS);
const PAGE = 4096;

/** Sends `n` frames from `g` to `to` tagged base..base+n-1 and runs everything. */
function send(w: PtWorld, g: PtGuest, to: number, n: number, base: number): void {
  for (let i = 0; i < n; i++) assert.ok(g.dev.transmit(frame(to, g.mac, base + i), 60, 0));
  w.pump();
}

test("passthrough: frames cross between two guests with one copy each, in order, counted", () => {
  const w = new PtWorld();
  const a = w.addGuest();
  const b = w.addGuest();
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
  const a = w.addGuest();
  const b = w.addGuest();
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
  const bad = w.addGuest();
  const b = w.addGuest();
  const c = w.addGuest();
  const txRing = bad.areaOff + PAGE + lay.txRing;
  bad.mem.u32[(txRing + RING_HEAD) >>> 2] = PT_DEFAULT_SLOTS + 7;
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
  const a = w.addGuest();
  const b = w.addGuest();
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
  fc.integer({ min: 0, max: PT_DEFAULT_SLOTS * 4 - 1 }).map((i) => PAGE + lay.txRing + RING_SLOTS + i * 4),
  fc.integer({ min: 0, max: PT_DEFAULT_SLOTS * 4 - 1 }).map((i) => PAGE + lay.rxRing + RING_SLOTS + i * 4),
  fc.constantFrom(PT_CSB_TX * 4, PT_CSB_TX * 4 + 4, PT_CSB_RX * 4, PT_CSB_RX * 4 + 4),
  fc.integer({ min: 0, max: lay.pages * 1024 - 1 }).map((i) => i * 4),
);
const value = fc.oneof(
  fc.integer({ min: 0, max: PT_DEFAULT_SLOTS + 2 }),
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
      const bad = w.addGuest();
      const b = w.addGuest();
      const c = w.addGuest();
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
  const a = w.addGuest();
  const b = w.addGuest();
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
  assert.equal(n, PT_DEFAULT_SLOTS - 1);
  assert.equal(a.dev.txBurst(f, 0, 60, 1), 0);
  w.pump();
  assert.equal(b.got.length, 300 + n);
});

test("passthrough: a full TX ring is counted once, however often the sender asks (a lend, then the same frame by copy)", () => {
  const w = new PtWorld();
  const a = w.addGuest();
  const b = w.addGuest();
  const f = frame(b.mac, a.mac, 5);
  const full0 = a.dev.counters.get("txFull");
  // Domain-0 not running: the ring takes slots - 1 frames.
  assert.equal(a.dev.txBurst(f, 0, 60, 10_000), PT_DEFAULT_SLOTS - 1);
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

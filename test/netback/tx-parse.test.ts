import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  oneSlotSize,
  parseTxPacket,
  TX_SLOT_BYTES,
  TxPacket,
  TxReason,
  TxVerdict,
} from "../../src/netback/tx-parse.js";
import { privateMem } from "../../src/wire/mem.js";
import {
  extraGsoWrite,
  extraMcastWrite,
  NETTXF_extra_info,
  NETTXF_more_data,
  txReqWrite,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../../src/wire/xen/netif.js";

const LIMITS = { fatalSlots: 20 };
const CAP = 256;

/** Slots as a test writes them: data {size, offset, more} or an extra. */
type Slot =
  | { k: "data"; size: number; offset?: number; more?: boolean; extra?: boolean }
  | { k: "gso"; size: number; type: number; more?: boolean }
  | { k: "mcast"; more?: boolean }
  | { k: "raw"; type: number; more?: boolean };

function batchOf(slots: Slot[]) {
  const m = privateMem(CAP * TX_SLOT_BYTES);
  slots.forEach((s, i) => {
    const at = i * TX_SLOT_BYTES;
    const emore = s.more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
    if (s.k === "data") {
      const f = (s.more ? NETTXF_more_data : 0) | (s.extra ? NETTXF_extra_info : 0);
      txReqWrite(m, at, 8 + i, s.offset ?? 0, f, i, s.size);
    } else if (s.k === "gso") extraGsoWrite(m, at, emore, s.size, s.type);
    else if (s.k === "mcast") extraMcastWrite(m, at, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, emore, 0x01005e000001);
    else {
      m.u8[at] = s.type;
      m.u8[at + 1] = emore;
    }
  });
  return m;
}

function parse(slots: Slot[], avail = slots.length): TxPacket {
  const p = new TxPacket();
  parseTxPacket(batchOf(slots), 0, 0, avail, LIMITS, p);
  return p;
}

/** A frame of `total` bytes split into a first slot and `frags` fragments of 100 bytes. */
function chain(frags: number, total = 1000 + frags * 100): Slot[] {
  const s: Slot[] = [{ k: "data", size: total, more: frags > 0 }];
  for (let f = 0; f < frags; f++) s.push({ k: "data", size: 100, more: f < frags - 1 });
  return s;
}

test("a one-slot frame is accepted whole", () => {
  const p = parse([{ k: "data", size: 60, offset: 4036 }]);
  assert.deepEqual([p.verdict, p.consumed, p.firstSize, p.totalSize], [TxVerdict.Ok, 1, 60, 60]);
});

test("fragments are subtracted from the first slot's size", () => {
  const p = parse(chain(2, 3000));
  assert.deepEqual([p.verdict, p.consumed, p.nFrags, p.firstSize], [TxVerdict.Ok, 3, 2, 2800]);
});

test("slot counts: up to 19 accepted, 20 and 21 dropped, 22 fatal (Linux's limits)", () => {
  const verdicts = [17, 18, 19, 20, 21, 25].map((frags) => {
    const p = parse(chain(frags));
    return [frags + 1, p.verdict, p.reason, p.consumed];
  });
  assert.deepEqual(verdicts, [
    [18, TxVerdict.Ok, TxReason.None, 18],
    [19, TxVerdict.Ok, TxReason.None, 19],
    [20, TxVerdict.Drop, TxReason.TooManySlots, 20],
    [21, TxVerdict.Drop, TxReason.TooManySlots, 21],
    [22, TxVerdict.Fatal, TxReason.MaliciousSlots, 1],
    [26, TxVerdict.Fatal, TxReason.MaliciousSlots, 1],
  ]);
});

test("a fragment larger than what remains is dropped, not fatal, and every slot is consumed", () => {
  const p = parse([
    { k: "data", size: 500, more: true },
    { k: "data", size: 400, more: true },
    { k: "data", size: 400 },
  ]);
  assert.deepEqual(
    [p.verdict, p.reason, p.reasonA, p.reasonB, p.consumed],
    [TxVerdict.Drop, TxReason.FragLargerThanRest, 400, 100, 3],
  );
});

test("page crossings are fatal, for a fragment and for the first slot", () => {
  const frag = parse([
    { k: "data", size: 2000, more: true },
    { k: "data", size: 200, offset: 3900 },
  ]);
  assert.deepEqual([frag.verdict, frag.reason], [TxVerdict.Fatal, TxReason.FragCrossesPage]);
  const first = parse([{ k: "data", size: 200, offset: 3900 }]);
  assert.deepEqual(
    [first.verdict, first.reason, first.describe()],
    [TxVerdict.Fatal, TxReason.FirstCrossesPage, "Cross page boundary, txreq.offset: 3900, size: 200"],
  );
});

test("a frame shorter than an Ethernet header is dropped", () => {
  assert.deepEqual(
    [parse([{ k: "data", size: 13 }]).reason, parse([{ k: "data", size: 14 }]).verdict],
    [TxReason.Runt, TxVerdict.Ok],
  );
});

test("extras: missing, bad type, GSO checks and multicast control", () => {
  const missing = parse([{ k: "data", size: 100, extra: true }]);
  assert.deepEqual([missing.verdict, missing.reason], [TxVerdict.Fatal, TxReason.MissingExtra]);
  for (const type of [0, 5, 255]) {
    const bad = parse([
      { k: "data", size: 100, extra: true },
      { k: "raw", type },
    ]);
    assert.deepEqual([bad.verdict, bad.reason, bad.reasonA], [TxVerdict.Fatal, TxReason.BadExtraType, type]);
  }
  const zero = parse([
    { k: "data", size: 100, extra: true },
    { k: "gso", size: 0, type: XEN_NETIF_GSO_TYPE_TCPV4 },
  ]);
  assert.equal(zero.reason, TxReason.GsoZeroSize);
  const badType = parse([
    { k: "data", size: 100, extra: true },
    { k: "gso", size: 1448, type: 3 },
  ]);
  assert.equal(badType.reason, TxReason.GsoBadType);
  const gso = parse([
    { k: "data", size: 3000, extra: true, more: true },
    { k: "gso", size: 1448, type: XEN_NETIF_GSO_TYPE_TCPV4 },
    { k: "data", size: 1000 },
  ]);
  assert.deepEqual(
    [gso.verdict, gso.nExtras, gso.gsoAt, gso.consumed, gso.firstSize],
    [TxVerdict.Ok, 1, 1, 3, 2000],
  );
  const mc = parse([{ k: "data", size: 0, extra: true, more: true }, { k: "mcast" }, { k: "data", size: 5 }]);
  assert.deepEqual([mc.verdict, mc.consumed, mc.mcastAddAt], [TxVerdict.Control, 2, 1]);
});

test("a more_data chain that runs past the produced requests is fatal", () => {
  const p = parse(chain(5), 4);
  assert.deepEqual([p.verdict, p.reason], [TxVerdict.Fatal, TxReason.AskedTooManySlots]);
});

// Slots biased toward plausible packets, with garbage mixed in: flags of every kind,
// sizes near the limits, offsets near the page end, extra types in and out of range.
const slotWords = fc.record({
  gref: fc.nat(),
  offset: fc.oneof(fc.constantFrom(0, 4036, 4095, 4096), fc.integer({ min: 0, max: 0xffff })),
  flags: fc.oneof(
    fc.constantFrom(0, NETTXF_more_data, NETTXF_extra_info, 0xffff),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  size: fc.oneof(fc.constantFrom(0, 13, 14, 60, 1514, 4096, 0xffff), fc.integer({ min: 0, max: 0xffff })),
});

test("any slots: parsing never throws, stays within avail, and an accepted frame adds up", () => {
  fc.assert(
    fc.property(fc.array(slotWords, { minLength: 1, maxLength: 40 }), fc.nat(40), (slots, cut) => {
      const m = privateMem(CAP * TX_SLOT_BYTES);
      for (const [i, s] of slots.entries())
        txReqWrite(m, i * TX_SLOT_BYTES, s.gref, s.offset, s.flags, i, s.size);
      const avail = 1 + (cut % slots.length);
      const p = new TxPacket();
      parseTxPacket(m, 0, 0, avail, LIMITS, p);
      if (p.verdict === TxVerdict.Fatal) {
        assert.notEqual(p.reason, TxReason.None);
        return;
      }
      assert.ok(p.consumed >= 1 && p.consumed <= avail, `consumed ${p.consumed} of ${avail}`);
      if (p.verdict !== TxVerdict.Ok) return;
      assert.equal(p.consumed, 1 + p.nExtras + p.nFrags);
      assert.ok(p.firstSize >= 14);
      let sum = p.firstSize;
      for (let f = 0; f < p.nFrags; f++) {
        const s = slots[1 + p.nExtras + f];
        assert.ok(s.offset + s.size <= 4096);
        sum += s.size;
      }
      assert.equal(sum, p.totalSize);
      assert.ok(slots[0].offset + p.firstSize <= 4096);
      // What lies after the packet cannot change the verdict: it was never read.
      const again = new TxPacket();
      for (let i = p.consumed; i < CAP; i++) txReqWrite(m, i * TX_SLOT_BYTES, 0, 4095, 0xffff, 0, 0xffff);
      parseTxPacket(m, 0, 0, avail, LIMITS, again);
      assert.deepEqual(
        [again.verdict, again.consumed, again.firstSize],
        [p.verdict, p.consumed, p.firstSize],
      );
    }),
    { numRuns: 3000 },
  );
});

test("frames as a frontend lays them out parse back to their sizes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 14, max: 0xffff }), fc.integer({ min: 0, max: 4095 }), (len, off0) => {
      // First slot from off0 to the page end, then whole pages: how netfront splits a frame.
      const slots: Slot[] = [];
      let left = len;
      let off = off0;
      while (left > 0) {
        const n = Math.min(left, 4096 - off);
        slots.push({ k: "data", size: slots.length === 0 ? len : n, offset: off, more: left - n > 0 });
        left -= n;
        off = 0;
      }
      const p = parse(slots);
      const firstLen = Math.min(len, 4096 - off0);
      if (slots.length > 19) {
        assert.notEqual(p.verdict, TxVerdict.Ok);
        return;
      }
      if (firstLen < 14) {
        assert.equal(p.reason, TxReason.Runt);
        return;
      }
      assert.deepEqual(
        [p.verdict, p.consumed, p.firstSize, p.totalSize],
        [TxVerdict.Ok, slots.length, firstLen, len],
      );
    }),
  );
});

test("oneSlotSize takes exactly the first slots parseTxPacket accepts as a whole one-slot frame", () => {
  // Flags biased towards none (the case it takes), sizes and offsets around their limits.
  const slotArb = fc.record({
    flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
    // -3, -2, -1: the frame ends one byte before, at, one byte past the end of its page.
    size: fc.oneof(
      fc.integer({ min: -3, max: -1 }),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 4000, max: 4200 }),
    ),
    offset: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 3900, max: 4100 }),
    ),
    words: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 6, maxLength: 6 }),
  });
  fc.assert(
    fc.property(slotArb, fc.integer({ min: 1, max: 3 }), (s, avail) => {
      const m = privateMem(CAP * TX_SLOT_BYTES);
      // The slots after the first are anything: a one-slot frame must not depend on them.
      for (let w = 0; w < 6; w++) m.u32[3 + w] = s.words[w];
      const size0 = s.size >= 0 ? s.size : Math.max(0, Math.min(0xffff, 4098 + s.size - s.offset));
      txReqWrite(m, 0, 7, s.offset, s.flags, 9, size0);
      const pkt = new TxPacket();
      const v = parseTxPacket(m, 0, 0, avail, LIMITS, pkt);
      const whole = v === TxVerdict.Ok && pkt.consumed === 1 && pkt.nExtras === 0 && pkt.nFrags === 0;
      const size = oneSlotSize(m, 0);
      assert.equal(size >= 0, whole);
      if (whole) {
        assert.equal(size, pkt.firstSize);
        assert.equal(size, pkt.totalSize);
        assert.equal(pkt.gsoAt, -1);
      }
    }),
    { numRuns: 2000 },
  );
});

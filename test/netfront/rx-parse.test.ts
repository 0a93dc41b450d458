import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseRxPacket, RX_SLOT_BYTES, RxPacket, RxReason, RxVerdict } from "../../src/netfront/rx-parse.js";
import { privateMem } from "../../src/wire/mem.js";
import {
  extraGsoWrite,
  NETRXF_extra_info,
  NETRXF_more_data,
  rxRspWrite,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../../src/wire/xen/netif.js";

const MASK = 255;
const FIRST = 0xfffffff0; // ring indexes near the wrap, as a long-lived queue has them

type Rsp =
  | { status: number; offset?: number; more?: boolean; extra?: boolean; id?: number }
  | { gso: number; type?: number };

function parse(rsps: Rsp[], avail = rsps.length): RxPacket {
  const m = privateMem(512 * RX_SLOT_BYTES);
  rsps.forEach((r, i) => {
    const at = i * RX_SLOT_BYTES;
    if ("gso" in r) {
      extraGsoWrite(m, at, 0, r.gso, XEN_NETIF_GSO_TYPE_TCPV4);
      if (r.type !== undefined) m.u8[at] = r.type;
    } else {
      const f = (r.more ? NETRXF_more_data : 0) | (r.extra ? NETRXF_extra_info : 0);
      rxRspWrite(m, at, r.id ?? (FIRST + i) & MASK, r.offset ?? 0, f, r.status);
    }
  });
  const p = new RxPacket();
  parseRxPacket(m, 0, 0, avail, FIRST, MASK, p);
  return p;
}

test("a single response is a frame of its status bytes", () => {
  const p = parse([{ status: 60 }]);
  assert.deepEqual([p.verdict, p.consumed, p.length], [RxVerdict.Ok, 1, 60]);
});

test("multi-slot frames with a GSO extra between the first slot and the rest", () => {
  const p = parse([
    { status: 4096, more: true, extra: true },
    { gso: 1448 },
    { status: 4096, more: true },
    { status: 100 },
  ]);
  assert.deepEqual(
    [p.verdict, p.consumed, p.nExtras, p.nData, p.length, p.gsoAt],
    [RxVerdict.Ok, 4, 1, 3, 8292, 1],
  );
});

test("bad ids, statuses and offsets drop the packet but consume all of it", () => {
  const wrongId = parse([
    { status: 100, more: true },
    { status: 100, id: 7 },
  ]);
  assert.deepEqual([wrongId.verdict, wrongId.reason, wrongId.consumed], [RxVerdict.Drop, RxReason.BadId, 2]);
  const negative = parse([{ status: -1 }]);
  assert.equal(negative.reason, RxReason.BadStatus);
  const past = parse([{ status: 200, offset: 3900 }]);
  assert.deepEqual([past.reason, past.describe()], [RxReason.BadStatus, "rx->offset: 3900, size: 200"]);
  assert.equal(parse([{ status: 97, offset: 4000 }]).reason, RxReason.BadStatus, "one byte past the page");
  assert.equal(parse([{ status: 96, offset: 4000 }]).verdict, RxVerdict.Ok, "up to the page end");
});

test("more_data past the published responses and missing extras drop what was there", () => {
  const more = parse(
    [
      { status: 100, more: true },
      { status: 100, more: true },
    ],
    2,
  );
  assert.deepEqual([more.verdict, more.reason, more.consumed], [RxVerdict.Drop, RxReason.NeedMoreSlots, 2]);
  const extra = parse([{ status: 100, extra: true }], 1);
  assert.deepEqual([extra.reason, extra.consumed], [RxReason.MissingExtra, 1]);
  const badType = parse([
    { status: 100, extra: true },
    { gso: 1, type: 9 },
  ]);
  assert.deepEqual([badType.reason, badType.consumed], [RxReason.BadExtraType, 2]);
});

test("more than 18 data slots (19 after a small first slot) is too many", () => {
  const chain = (n: number, first: number): Rsp[] =>
    Array.from({ length: n }, (_, i) => ({ status: i === 0 ? first : 100, more: i < n - 1 }));
  assert.equal(parse(chain(18, 1000)).verdict, RxVerdict.Ok);
  assert.equal(parse(chain(19, 1000)).reason, RxReason.TooManySlots);
  assert.equal(parse(chain(19, 200)).verdict, RxVerdict.Ok);
  assert.equal(parse(chain(20, 200)).reason, RxReason.TooManySlots);
});

test("any responses: parsing never throws, stays within avail, an accepted frame adds up", () => {
  const rsp = fc.record({
    id: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })),
    offset: fc.oneof(fc.constantFrom(0, 4000, 4096), fc.integer({ min: 0, max: 0xffff })),
    flags: fc.oneof(
      fc.constantFrom(0, NETRXF_more_data, NETRXF_extra_info, 0xffff),
      fc.integer({ min: 0, max: 0xffff }),
    ),
    status: fc.integer({ min: -0x8000, max: 0x7fff }),
  });
  fc.assert(
    fc.property(fc.array(rsp, { minLength: 1, maxLength: 40 }), fc.nat(), (rsps, cut) => {
      const m = privateMem(512 * RX_SLOT_BYTES);
      for (const [i, r] of rsps.entries())
        rxRspWrite(m, i * RX_SLOT_BYTES, r.id < 0 ? (FIRST + i) & MASK : r.id, r.offset, r.flags, r.status);
      const avail = 1 + (cut % rsps.length);
      const p = new RxPacket();
      parseRxPacket(m, 0, 0, avail, FIRST, MASK, p);
      assert.ok(p.consumed >= 1 && p.consumed <= avail);
      if (p.verdict !== RxVerdict.Ok) return;
      assert.equal(p.consumed, p.nExtras + p.nData);
      let sum = 0;
      for (let s = 0; s < p.consumed; s++) {
        if (s >= 1 && s <= p.nExtras) continue;
        const r = rsps[s];
        assert.equal(r.id < 0 ? (FIRST + s) & MASK : r.id, (FIRST + s) & MASK);
        assert.ok(r.status >= 0 && r.offset + r.status <= 4096);
        sum += r.status;
      }
      assert.equal(sum, p.length);
    }),
    { numRuns: 3000 },
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { writeRxResponse, writeTxResponse } from "../../src/netback/rsp-write.js";
import { RingArea } from "../../src/ring/area.js";
import { BackRing } from "../../src/ring/back.js";
import { FrontRing } from "../../src/ring/front.js";
import { type Mem, privateMem, sharedMem } from "../../src/wire/mem.js";
import {
  NETIF_RX_ENTRY_SIZE,
  NETIF_TX_ENTRY_SIZE,
  rxRspWrite,
  txRspWrite,
} from "../../src/wire/xen/netif.js";

const PAGE = 4096;

/** A ring of 2^order pages at shuffled pages of a 20-page memory, requests pushed by a front. */
function ringPair(order: number, esz: number, perm: number[], start: number) {
  const mem = sharedMem(20 * PAGE);
  const pages = perm.slice(0, 1 << order).map((p) => p * PAGE);
  const front = FrontRing.init(new RingArea(mem, pages, esz), start);
  const back = BackRing.attach(new RingArea(mem, pages, esz));
  assert.ok(typeof back !== "number");
  return { mem, front, back: back as BackRing };
}

/** Fills whole request slots with a pattern (so a response's untouched bytes are visible). */
function fillRequests(front: FrontRing, n: number, seed: number): void {
  const w = front.area.words;
  for (let i = 0; i < n; i++) {
    const at = front.beginRequest();
    for (let k = 0; k < w; k++) front.wmem.u32[(at >>> 2) + k] = (seed + i * 31 + k * 7) | 0x80000000;
    front.endRequest();
  }
  front.pushRequests();
}

interface Rsp {
  id: number;
  offset: number;
  flags: number;
  status: number;
}

/** The per-slot path the run writers replace: a stage and `wmem` for every slot. */
function perSlot(back: BackRing, tx: boolean, r: Rsp): void {
  const at = back.beginResponse();
  if (tx) txRspWrite(back.wmem, at, r.id, r.status);
  else rxRspWrite(back.wmem, at, r.id, r.offset, r.flags, r.status);
  back.endResponse();
}

const rspArb = fc.record({
  id: fc.integer({ min: 0, max: 0xffff }),
  offset: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  status: fc.integer({ min: -0x8000, max: 0x7fff }),
});

test("responses written straight into the ring equal the per-slot path byte for byte (wrap, straddles, 1-16 pages)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2, 3, 4),
      fc.boolean(),
      fc.shuffledSubarray([...Array(20).keys()], { minLength: 16, maxLength: 16 }),
      fc.integer({ min: 2 ** 32 - 5000, max: 2 ** 32 - 1 }),
      fc.array(fc.array(rspArb, { minLength: 1, maxLength: 700 }), { minLength: 1, maxLength: 6 }),
      (order, tx, perm, start, rounds) => {
        const esz = tx ? NETIF_TX_ENTRY_SIZE : NETIF_RX_ENTRY_SIZE;
        const a = ringPair(order, esz, perm, start);
        const b = ringPair(order, esz, perm, start);
        const n = a.front.nrEnts;
        const scratch: Mem = privateMem(n * esz);
        let seed = 1;
        for (const round of rounds) {
          const rs = round.slice(0, n);
          for (const p of [a, b]) {
            fillRequests(p.front, rs.length, seed);
            assert.equal(p.back.copyRequests(scratch, 0, n), rs.length);
          }
          seed += rs.length;
          for (const r of rs) {
            perSlot(a.back, tx, r);
            if (tx) writeTxResponse(b.back, r.id, r.status);
            else writeRxResponse(b.back, r.id, r.offset, r.flags, r.status);
          }
          assert.equal(b.back.rspProdPvt, a.back.rspProdPvt);
          assert.deepEqual(b.mem.u8, a.mem.u8);
          for (const p of [a, b]) {
            p.back.pushResponses();
            assert.equal(p.front.copyResponses(scratch, 0, n), rs.length);
          }
        }
      },
    ),
    { numRuns: 60 },
  );
});

test("a ring with straddling slots has them: the property above covers the staged path", () => {
  // TX entries of 12 bytes from order 2 on: entry 677 spans bytes 8188-8199.
  const { back } = ringPair(2, NETIF_TX_ENTRY_SIZE, [3, 1, 7, 5], 0);
  assert.equal(back.area.slotOff[677], -1);
});

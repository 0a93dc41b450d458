import assert from "node:assert/strict";
import { test } from "node:test";
import {
  IF_RING_OFS,
  IF_RX_RINGS,
  IF_TX_RINGS,
  NR_RX,
  NR_TX,
  RING_BUF_OFS,
  RING_DIR,
  ringBufSize,
  ringNumSlots,
} from "../../src/netmap/layout.js";
import { NetmapRegion, type RingCounts, regionSpecFor } from "../../src/netmap/mem.js";

const counts: RingCounts = {
  txRings: 2,
  rxRings: 2,
  hostTxRings: 1,
  hostRxRings: 1,
  txSlots: 512,
  rxSlots: 256,
};

test("a region holds if objects, rings and buffers found by offset as netmap computes them", () => {
  const region = new NetmapRegion(1, regionSpecFor(2, counts, 16));
  const m = region.mem;
  const rings: number[] = [];
  for (let i = 0; i < 3; i++) rings.push(region.allocRing(512, NR_TX, i));
  for (let i = 0; i < 3; i++) rings.push(region.allocRing(256, NR_RX, i));
  const nifp = region.allocIf("vale0:a", counts, rings);
  assert.equal(m.u32[(nifp + IF_TX_RINGS) >>> 2], 2);
  assert.equal(m.u32[(nifp + IF_RX_RINGS) >>> 2], 2);
  assert.equal(new TextDecoder().decode(m.u8.subarray(nifp, nifp + 7)), "vale0:a");
  // NETMAP_RXRING(nifp, 0) skips the NIC and host TX rings.
  const rx0 = nifp + m.u32[(nifp + IF_RING_OFS + 3 * 8) >>> 2];
  assert.equal(rx0, rings[3]);
  assert.equal(m.u16[(rx0 + RING_DIR) >>> 1], NR_RX);
  assert.equal(ringNumSlots(m, rx0), 256);
  assert.equal(ringBufSize(m, rx0), 2048);
  // NETMAP_BUF(ring, idx) = ring + buf_ofs + idx * nr_buf_size.
  const idx = region.allocBuf();
  assert.ok(idx >= 2);
  assert.equal(rx0 + m.u32[(rx0 + RING_BUF_OFS) >>> 2] + idx * 2048, region.bufOff(idx));
  assert.ok(region.bufOff(region.nBufs - 1) + 2048 <= m.byteLength);
});

test("buffers 0 and 1 are never handed out; an empty pool answers 0", () => {
  const region = new NetmapRegion(1, { ifBytes: 0, ringBytes: 0, nBufs: 6 });
  const got = [region.allocBuf(), region.allocBuf(), region.allocBuf(), region.allocBuf()];
  assert.deepEqual([...got].sort(), [2, 3, 4, 5]);
  assert.equal(region.allocBuf(), 0);
  region.freeBuf(4);
  assert.equal(region.allocBuf(), 4);
  assert.equal(region.validBuf(1), false);
  assert.equal(region.validBuf(6), false);
  assert.throws(() => region.freeBuf(0), /bad netmap buffer/);
});

test("rings past the reserved area are refused", () => {
  const region = new NetmapRegion(1, { ifBytes: 0, ringBytes: 4096, nBufs: 4 });
  region.allocRing(64, NR_TX, 0);
  assert.throws(() => region.allocRing(1024, NR_TX, 1), /ring area exhausted/);
});

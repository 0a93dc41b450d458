/**
 * NicAdapter's receive side, which the VXLAN and tap uplinks share: a frame larger than one
 * buffer is chained over slots with NS_MOREFRAG and reaches a switch port whole; a full
 * ring refuses (RX_FULL) without publishing a partial frame; a frame above the chain limit
 * is refused (RX_BAD).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { KRing } from "../../src/netmap/kring.js";
import {
  NETMAP_MAX_FRAGS,
  NS_MOREFRAG,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { NicAdapter, RX_BAD, RX_FILLED, RX_FULL } from "../../src/uplink/nic-adapter.js";
import { NicPort } from "../../src/uplink/nic-port.js";
import { ValePort } from "../../src/vale/port.js";
import { ValeSwitch } from "../../src/vale/switch.js";

class TestNic extends NicAdapter {
  txsync(k: KRing): void {
    k.hwcur = k.rhead;
    k.hwtail = k.rhead === 0 ? k.numSlots - 1 : k.rhead - 1;
  }
  inject(b: Buffer, off: number, len: number): number {
    return this.rxFill(b, off, len);
  }
}

/** Frames on `p`'s RX ring as [total length, bytes] per NS_MOREFRAG chain. */
function take(p: NetmapPort): { len: number; bytes: number[] }[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const got: { len: number; bytes: number[] }[] = [];
  let h = ringHead(m, r);
  let cur: { len: number; bytes: number[] } | null = null;
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    const len = slotLen(m, s);
    cur ??= { len: 0, bytes: [] };
    cur.len += len;
    cur.bytes.push(...m.u8.subarray(off, off + len));
    if ((slotFlags(m, s) & NS_MOREFRAG) === 0) {
      got.push(cur);
      cur = null;
    }
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return got;
}

function frame(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len + 4);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + seed) & 0xff;
  b.fill(0xff, 4, 10); // broadcast destination: flooded to every port
  b.set([2, 0, 0, 0, 0, seed], 10);
  return b;
}

test("rxFill: a frame above one buffer crosses the switch whole, chained over slots", async () => {
  const sw = new ValeSwitch("vale0");
  const p = new ValePort(sw, "vale0:p", 64).open();
  const nic = new TestNic("nic0", 64);
  const port = new NicPort(sw, nic);
  try {
    const bufSize = nic.region.bufSize;
    const big = frame(bufSize + 100, 1);
    const small = frame(60, 2);
    assert.equal(nic.inject(big, 4, bufSize + 100), RX_FILLED);
    assert.equal(nic.inject(small, 4, 60), RX_FILLED);
    await new Promise((r) => setImmediate(r));
    const got = take(p);
    assert.deepEqual(
      got.map((g) => g.len),
      [bufSize + 100, 60],
    );
    assert.deepEqual(got[0]!.bytes, [...big.subarray(4)]);
    assert.deepEqual(got[1]!.bytes, [...small.subarray(4)]);
    assert.equal(port.name, "vale0:nic0");
  } finally {
    port.detach();
  }
});

test("rxFill: a full ring refuses whole frames, a frame above the chain limit is refused", async () => {
  const sw = new ValeSwitch("vale0");
  const p = new ValePort(sw, "vale0:p", 64).open();
  const nic = new TestNic("nic0", 8);
  const port = new NicPort(sw, nic);
  try {
    const bufSize = nic.region.bufSize;
    assert.equal(
      nic.inject(frame(bufSize * NETMAP_MAX_FRAGS + 1, 3), 4, bufSize * NETMAP_MAX_FRAGS + 1),
      RX_BAD,
    );
    // 7 slots free in an 8-slot ring: three 2-slot frames fit, a fourth does not, one slot does.
    for (let i = 0; i < 3; i++) assert.equal(nic.inject(frame(bufSize + 1, 4), 4, bufSize + 1), RX_FILLED);
    assert.equal(nic.inject(frame(bufSize + 1, 5), 4, bufSize + 1), RX_FULL);
    assert.equal(nic.inject(frame(60, 6), 4, 60), RX_FILLED);
    assert.equal(nic.inject(frame(60, 7), 4, 60), RX_FULL);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      take(p).map((g) => g.len),
      [bufSize + 1, bufSize + 1, bufSize + 1, 60],
    );
    // Pumped and released: the ring takes frames again.
    assert.equal(nic.inject(frame(60, 8), 4, 60), RX_FILLED);
  } finally {
    port.detach();
  }
});

test("rxFill: any frame from any offset in the datagram arrives byte for byte (short ones by the word loop)", async () => {
  const sw = new ValeSwitch("vale2");
  const p = new ValePort(sw, "vale2:p", 64).open();
  const nic = new TestNic("nic2", 64);
  const port = new NicPort(sw, nic);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 14, max: 300 }),
        fc.integer({ min: 0, max: 11 }),
        fc.integer({ min: 0, max: 255 }),
        async (len, off, seed) => {
          const b = Buffer.alloc(off + len);
          for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 0xff;
          b.fill(0xff, off, off + 6); // broadcast destination: flooded to every port
          b[off + 6] = 2; // a unicast source
          assert.equal(nic.inject(b, off, len), RX_FILLED);
          await new Promise((r) => setImmediate(r));
          const got = take(p);
          assert.equal(got.length, 1);
          assert.deepEqual(got[0]!.bytes, [...b.subarray(off)]);
        },
      ),
      { numRuns: 200 },
    );
  } finally {
    port.detach();
    p.close();
  }
});

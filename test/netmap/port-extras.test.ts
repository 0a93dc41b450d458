import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FakeClock } from "../../src/base/clock.js";
import { NetmapContext } from "../../src/netmap/context.js";
import { GenericAdapter } from "../../src/netmap/generic.js";
import {
  IF_BUFS_HEAD,
  IF_HOST_RX_RINGS,
  IF_HOST_TX_RINGS,
  IF_RING_OFS,
  IF_RX_RINGS,
  IF_TX_RINGS,
  NR_TIMESTAMP,
  NS_BUF_CHANGED,
  ringHead,
  ringSetCur,
  ringSetFlags,
  ringSetHead,
  ringSlot,
  ringTsMs,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapPort } from "../../src/netmap/port.js";
import { installVale } from "../../src/vale/install.js";

/** The extra-buffer list as the user sees it: follow ni_bufs_head through word 0 of each buffer. */
function list(p: NetmapPort, max = 100): number[] {
  const u32 = p.mem.u32;
  const out: number[] = [];
  for (
    let i = u32[(p.nifp + IF_BUFS_HEAD) >>> 2];
    i !== 0 && out.length < max;
    i = u32[p.region.bufOff(i) >>> 2]
  )
    out.push(i);
  return out;
}

function valeCtx() {
  const ctx = new NetmapContext();
  installVale(ctx, 16);
  return ctx;
}

test("open with extraBufs hangs that many distinct buffers on ni_bufs_head; close frees them", () => {
  const ctx = valeCtx();
  const probe = ctx.open("vale0:a");
  const region = probe.region;
  probe.close();
  const free0 = region.freeBufs;
  const p = ctx.open("vale0:a", { extraBufs: 5 });
  assert.equal(p.extraBufs, 5);
  const l = list(p);
  assert.equal(l.length, 5);
  assert.equal(new Set(l).size, 5);
  assert.ok(l.every((b) => region.validBuf(b)));
  assert.equal(region.freeBufs, free0 - 5);
  assert.equal(p.close(), 5);
  assert.equal(region.freeBufs, free0);
  assert.equal(p.close(), 0, "a second close does nothing");
});

test("close frees exactly the list reachable from ni_bufs_head, even after swaps with ring slots", () => {
  const ctx = valeCtx();
  const p = ctx.open("vale0:a", { extraBufs: 3 });
  const m = p.mem;
  const [b0, b1] = list(p);
  // Move b0 into TX slot 0 (zero-copy send of a pre-built buffer); the slot's old buffer
  // joins the list in its place.
  const s = ringSlot(p.tx[0].r, 0);
  const old = slotBufIdx(m, s);
  slotSetBufIdx(m, s, b0);
  slotSetFlags(m, s, NS_BUF_CHANGED);
  m.u32[(p.nifp + IF_BUFS_HEAD) >>> 2] = old;
  m.u32[p.region.bufOff(old) >>> 2] = b1;
  const before = p.region.freeBufs;
  assert.equal(p.close(), 3);
  assert.equal(p.region.freeBufs, before + 3);
  assert.notEqual(p.region.allocBuf(), b0, "b0 is the slot's buffer now and was not freed");
});

test("a hostile extra-buffer list (loops, repeats, garbage) never double-frees", () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 80 }), { maxLength: 12 }), (links) => {
      const ctx = valeCtx();
      const p = ctx.open("vale0:a", { extraBufs: 4 });
      const region = p.region;
      const u32 = p.mem.u32;
      const granted = new Set(list(p));
      const base = region.freeBufs;
      // Rewrite the list: head = links[0], and each buffer's next taken from `links`.
      const nodes = [...granted];
      if (links.length > 0) u32[(p.nifp + IF_BUFS_HEAD) >>> 2] = links[0];
      nodes.forEach((b, i) => {
        u32[region.bufOff(b) >>> 2] = links[i + 1] ?? 0;
      });
      const freed = p.close();
      assert.ok(freed <= region.nBufs - 2 - base);
      assert.equal(region.freeBufs, base + freed);
      const all = new Set<number>();
      for (let b = region.allocBuf(); b !== 0; b = region.allocBuf()) {
        assert.ok(!all.has(b), `buffer ${b} was on the free list twice`);
        all.add(b);
      }
    }),
    { numRuns: 200 },
  );
});

test("asking for more extra buffers than the region has grants fewer", () => {
  const ctx = valeCtx();
  ctx.open("vale0:a").close();
  const p = ctx.open("vale0:a", { extraBufs: 1_000_000 });
  assert.equal(p.extraBufs, list(p, 2_000_000).length);
  assert.equal(p.region.freeBufs, 0);
  assert.ok(p.extraBufs > 0);
});

test("a port opened by name has a netmap_if describing its NIC and host rings", () => {
  const dev = new GenericAdapter("tap0", { send: () => {} }, { slots: 8, sendUp: () => {} });
  const ctx = new NetmapContext();
  ctx.attach(dev.device());
  const p = ctx.open("netmap:tap0*");
  const u32 = p.mem.u32;
  const at = (o: number) => u32[(p.nifp + o) >>> 2];
  assert.deepEqual(
    [at(IF_TX_RINGS), at(IF_RX_RINGS), at(IF_HOST_TX_RINGS), at(IF_HOST_RX_RINGS)],
    [1, 1, 1, 1],
  );
  const ring = (i: number) => p.nifp + at(IF_RING_OFS + i * 8);
  assert.deepEqual(
    [ring(0), ring(1), ring(2), ring(3)],
    [dev.txRing, dev.hostRings!.txRing, dev.rxRing, dev.hostRings!.rxRing],
    "NIC TX, host TX, NIC RX, host RX",
  );
  const direct = new NetmapPort(dev.region, dev, [dev.txRing], []);
  assert.equal(direct.nifp, 0, "a port built directly has no netmap_if");
});

test("NS_BUF_CHANGED: a bad buffer resets the ring and nothing is sent; a good one is used and the flag cleared", () => {
  const sent: number[][] = [];
  const dev = new GenericAdapter("tap0", { send: (f) => sent.push([...f]) }, 8);
  const ctx = new NetmapContext();
  ctx.attach(dev.device());
  const p = ctx.open("netmap:tap0", { extraBufs: 1 });
  assert.equal(p.extraBufs, 1);
  const m = p.mem;
  const r = p.tx[0].r;
  const s = ringSlot(r, ringHead(m, r));
  slotSetBufIdx(m, s, 1); // reserved
  slotSetLen(m, s, 1);
  slotSetFlags(m, s, NS_BUF_CHANGED);
  ringSetHead(m, r, 1);
  ringSetCur(m, r, 1);
  p.txsync();
  assert.deepEqual(sent, []);
  assert.equal(p.tx[0].resets, 1);
  assert.equal(ringHead(m, r), 0, "the ring went back to the kernel's position");
  const [extra] = list(p);
  m.u8[p.region.bufOff(extra)] = 0x5a;
  assert.deepEqual([slotBufIdx(m, s), slotLen(m, s)], [0, 0], "reinit cleaned the bad slot");
  slotSetBufIdx(m, s, extra);
  slotSetLen(m, s, 1);
  slotSetFlags(m, s, NS_BUF_CHANGED);
  ringSetHead(m, r, 1);
  ringSetCur(m, r, 1);
  p.txsync();
  assert.deepEqual(sent, [[0x5a]]);
  assert.equal(slotFlags(m, s) & NS_BUF_CHANGED, 0);
  assert.equal(p.tx[0].resets, 1);
});

test("NR_TIMESTAMP: each RX sync writes ring->ts once from the port's clock", () => {
  const clock = new FakeClock(1_700_000_000_123.456);
  const dev = new GenericAdapter("tap0", { send: () => {} }, 8);
  const p = new NetmapPort(dev.region, dev, [], [dev.rxRing], { clock });
  const r = p.rx[0].r;
  p.rxsync();
  assert.equal(ringTsMs(p.mem, r), 0, "no NR_TIMESTAMP, no timestamp");
  ringSetFlags(p.mem, r, NR_TIMESTAMP);
  p.rxsync();
  assert.equal(ringTsMs(p.mem, r), 1_700_000_000_123.456);
  clock.advance(2.5);
  dev.receive(Uint8Array.of(1));
  p.rxsync();
  assert.equal(ringTsMs(p.mem, r), 1_700_000_000_125.956);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { NetmapContext } from "../../src/netmap/context.js";
import {
  NS_TXMON,
  RING_CUR,
  RING_HEAD,
  RING_TAIL,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  SEM_SLEEPING,
  SEM_WAKE,
  slotBufIdx,
  slotFlags,
  slotSetBufIdx,
  slotSetLen,
} from "../../src/netmap/layout.js";
import type { MonitorAdapter } from "../../src/netmap/monitor.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { installVale } from "../../src/vale/install.js";
import { startScribbler, word } from "./scribble.js";

function send(p: NetmapPort, tags: number[], len = 60): void {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  for (const tag of tags) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x00, tag], off);
    slotSetLen(m, s, len);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
}

function take(p: NetmapPort): [number, number][] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const out: [number, number][] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    out.push([m.u8[p.region.bufOff(slotBufIdx(m, s)) + 14], slotFlags(m, s)]);
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return out;
}

test("copy monitors see a VALE port's transmissions (NS_TXMON) and receptions", () => {
  const ctx = new NetmapContext();
  installVale(ctx, 64);
  const a = ctx.open("vale0:a");
  const b = ctx.open("vale0:b");
  const txMon = ctx.open("vale0:a/t");
  const rxMon = ctx.open("vale0:b/r");
  const both = ctx.open("vale0:b/rt");
  send(a, [1, 2, 3]);
  assert.deepEqual(take(txMon), [
    [1, NS_TXMON],
    [2, NS_TXMON],
    [3, NS_TXMON],
  ]);
  assert.deepEqual(
    take(b).map(([t]) => t),
    [1, 2, 3],
    "the monitored path is unchanged",
  );
  assert.deepEqual(take(rxMon), [
    [1, 0],
    [2, 0],
    [3, 0],
  ]);
  send(b, [7]);
  assert.deepEqual(
    take(both).map(([t, f]) => [t, f & NS_TXMON]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
      [7, NS_TXMON],
    ],
  );
  assert.deepEqual(take(rxMon), [], "an RX monitor does not see transmissions");
});

test("a full monitor drops and counts without slowing the monitored port; /z is refused", () => {
  const ctx = new NetmapContext();
  installVale(ctx, 64);
  const a = ctx.open("vale0:a");
  ctx.open("vale0:b");
  const mon = ctx.open("vale0:a/t");
  for (let i = 0; i < 110; i++) send(a, [i, i, i, i, i, i, i, i, i, i]);
  assert.equal(take(mon).length, 1023, "a monitor ring of 1024 slots holds 1023");
  const counters = (mon.adapter as unknown as { counters: { get(n: string): number } }).counters;
  assert.equal(counters.get("drops"), 1100 - 1023);
  assert.equal(counters.get("copied"), 1023);
  assert.throws(() => ctx.open("vale0:a/z"), /zero-copy monitors/);
  assert.throws(() => ctx.open("vale0:nobody/t"), /nothing to monitor/);
});

test("a monitor whose user broke its slots' buffers drops and counts; the watched port is untouched", () => {
  const ctx = new NetmapContext();
  installVale(ctx, 64);
  const a = ctx.open("vale0:a");
  const b = ctx.open("vale0:b");
  const mon = ctx.open("vale0:a/t");
  const m = mon.mem;
  const bad = [0xfffffff, mon.region.nBufs, 0, 1];
  for (let i = 0; i < mon.rx[0].numSlots; i++)
    slotSetBufIdx(m, ringSlot(mon.rx[0].r, i), bad[i % bad.length]);
  send(a, [1, 2, 3], 300); // past the word-copy size, so a bad offset would throw
  assert.deepEqual(
    take(b).map(([t]) => t),
    [1, 2, 3],
    "the frames reached their destination",
  );
  const counters = (mon.adapter as MonitorAdapter).counters;
  assert.equal(counters.get("drops"), 3);
  assert.equal(counters.get("copied"), 0);
  assert.deepEqual(take(mon), [], "nothing was published on the broken slot");
});

test("a monitor's user scribbling its ring from another thread never disturbs the watched port", async () => {
  const ctx = new NetmapContext();
  installVale(ctx, 64);
  const a = ctx.open("vale0:a");
  const b = ctx.open("vale0:b");
  const mon = ctx.open("vale0:a/t");
  const rmon = ctx.open("vale0:b/r");
  const nBufs = mon.region.nBufs;
  const groups = [mon, rmon].flatMap((p) => {
    const r = p.rx[0].r;
    const slots = Array.from({ length: p.rx[0].numSlots }, (_, i) => word(ringSlot(r, i)));
    return [
      { words: slots, values: [0, 1, 2, nBufs - 1, nBufs, 0xfffffff, 0xffffffff] },
      { words: slots.map((w) => w + 1), values: [0, 60, 2048, 2049, 65535, 0xffffffff] },
      {
        words: [RING_HEAD, RING_CUR, RING_TAIL]
          .map((o) => word(r + o))
          .concat([(r >>> 2) + SEM_WAKE, (r >>> 2) + SEM_SLEEPING]),
        values: [0, 1, 63, 64, 1023, 1024, 5000, 0xffffffff],
      },
    ];
  });
  const evil = [
    await startScribbler(mon.mem.buffer as SharedArrayBuffer, groups.slice(0, 3), 7),
    await startScribbler(rmon.mem.buffer as SharedArrayBuffer, groups.slice(3), 11),
  ];
  let sent = 0;
  let got = 0;
  try {
    const t0 = performance.now();
    for (let round = 0; performance.now() - t0 < 300; round++) {
      send(a, [round & 0xff, (round + 1) & 0xff], 300);
      sent += 2;
      const tags = take(b).map(([t]) => t);
      assert.deepEqual(tags, [round & 0xff, (round + 1) & 0xff]);
      got += tags.length;
      // The monitors' own syncs run too, as their user would call them.
      mon.rxsync();
      rmon.rxsync();
    }
  } finally {
    for (const e of evil) assert.ok((await e.stop()) > 1000, "the monitor's user thread wrote");
  }
  assert.equal(got, sent);
  const tx = (mon.adapter as MonitorAdapter).counters;
  assert.ok(tx.get("copied") + tx.get("drops") <= sent);
  assert.ok(tx.get("drops") > 0, "broken slots were dropped on and counted");
});

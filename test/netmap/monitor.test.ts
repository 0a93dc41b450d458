import assert from "node:assert/strict";
import { test } from "node:test";
import { NetmapContext } from "../../src/netmap/context.js";
import {
  NS_TXMON,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { installVale } from "../../src/vale/install.js";

function send(p: NetmapPort, tags: number[]): void {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  for (const tag of tags) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x00, tag], off);
    slotSetLen(m, s, 60);
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

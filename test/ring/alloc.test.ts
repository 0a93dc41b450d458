import assert from "node:assert/strict";
import { PerformanceObserver } from "node:perf_hooks";
import { test } from "node:test";
import { RingArea } from "../../src/ring/area.js";
import { BackRing } from "../../src/ring/back.js";
import { FrontRing } from "../../src/ring/front.js";
import { copyBytes } from "../../src/wire/copy.js";
import { privateMem, sharedMem } from "../../src/wire/mem.js";
import {
  NETIF_TX_ENTRY_SIZE,
  txReqGref,
  txReqSize,
  txReqWrite,
  txRspWrite,
} from "../../src/wire/xen/netif.js";

/** Minor GCs seen while `fn` runs (observer entries arrive asynchronously). */
async function gcsDuring(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    n += list.getEntries().length;
  });
  obs.observe({ entryTypes: ["gc"] });
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return n;
}

test("the ring datapath with 64-byte frames allocates nothing per frame", async () => {
  const guest = sharedMem(64 * 4096);
  const dom0 = sharedMem(16 * 4096);
  const pages = [3, 9, 4, 20].map((p) => p * 4096);
  const front = FrontRing.init(new RingArea(guest, pages, NETIF_TX_ENTRY_SIZE));
  const back = BackRing.attach(new RingArea(guest, pages, NETIF_TX_ENTRY_SIZE)) as BackRing;
  const req = privateMem(32 * NETIF_TX_ENTRY_SIZE);
  const rsp = privateMem(32 * NETIF_TX_ENTRY_SIZE);
  const round = (): void => {
    for (let i = 0; i < 32; i++) {
      const off = (30 + (i & 7)) * 4096;
      copyBytes(guest, off, guest, 25 * 4096, 64);
      const at = front.beginRequest();
      txReqWrite(front.wmem, at, 30 + (i & 7), 0, 0, i, 64);
      front.endRequest();
    }
    front.pushRequestsAndCheckNotify();
    const n = back.copyRequests(req, 0, 32);
    for (let i = 0; i < n; i++) {
      const at = i * NETIF_TX_ENTRY_SIZE;
      copyBytes(dom0, (i & 7) * 64, guest, txReqGref(req, at) * 4096, txReqSize(req, at));
      const r = back.beginResponse();
      txRspWrite(back.wmem, r, i, 0);
      back.endResponse();
    }
    back.pushResponsesAndCheckNotify();
    front.copyResponses(rsp, 0, 32);
  };
  for (let i = 0; i < 20_000; i++) round(); // warm up: let V8 optimise before counting
  const gcs = await gcsDuring(() => {
    for (let i = 0; i < 100_000; i++) round();
  });
  // Control: the same number of frames each allocating one small view, as a careless
  // `set(subarray())` copy would, shows what "allocates per frame" looks like here.
  const control = await gcsDuring(() => {
    let keep = 0;
    for (let i = 0; i < 3_200_000; i++) keep += guest.u8.subarray(i & 1023, (i & 1023) + 64).length;
    assert.ok(keep > 0);
  });
  assert.ok(control >= 4, `the control loop should collect garbage (saw ${control})`);
  assert.ok(gcs <= 1, `3.2 million frames caused ${gcs} garbage collections (control: ${control})`);
});

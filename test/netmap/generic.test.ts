import assert from "node:assert/strict";
import { test } from "node:test";
import { NetmapContext } from "../../src/netmap/context.js";
import { GenericAdapter } from "../../src/netmap/generic.js";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";

function setup(queueLen = 16) {
  const sent: number[][] = [];
  const dev = new GenericAdapter("tap0", { send: (f) => sent.push([...f]) }, 8, queueLen);
  const ctx = new NetmapContext();
  ctx.attach({
    name: "tap0",
    adapter: dev,
    region: dev.region,
    txRings: [dev.txRing],
    rxRings: [dev.rxRing],
    hostTxRings: [],
    hostRxRings: [],
  });
  return { dev, sent, port: ctx.open("netmap:tap0") };
}

test("the generic adapter sends TX slots through the device and fills RX slots from its queue", () => {
  const { dev, sent, port } = setup();
  const m = port.mem;
  const tx = port.tx[0].r;
  let h = ringHead(m, tx);
  for (let i = 0; i < 3; i++) {
    const s = ringSlot(tx, h);
    m.u8.set([i, i, i], port.region.bufOff(slotBufIdx(m, s)));
    slotSetLen(m, s, 3);
    h = nmRingNext(8, h);
  }
  ringSetHead(m, tx, h);
  ringSetCur(m, tx, h);
  port.txsync();
  assert.deepEqual(sent, [
    [0, 0, 0],
    [1, 1, 1],
    [2, 2, 2],
  ]);
  for (let i = 0; i < 10; i++) dev.receive(Uint8Array.of(i, 0xee));
  port.rxsync();
  const rx = port.rx[0].r;
  assert.equal(nmRingSpace(m, rx), 7, "an RX ring holds num_slots - 1; the rest stay queued");
  let r = ringHead(m, rx);
  for (let i = 0; i < 7; i++) {
    const s = ringSlot(rx, r);
    assert.equal(slotLen(m, s), 2);
    assert.equal(m.u8[port.region.bufOff(slotBufIdx(m, s))], i);
    r = nmRingNext(8, r);
  }
  ringSetHead(m, rx, r);
  ringSetCur(m, rx, r);
  port.rxsync();
  assert.equal(nmRingSpace(m, rx), 3, "the queued three arrive once slots are released");
});

test("a full receive queue drops and counts; poll wakes when a frame arrives", async () => {
  const { dev, port } = setup(4);
  for (let i = 0; i < 6; i++) dev.receive(Uint8Array.of(i));
  assert.equal(dev.counters.get("rxDrops"), 2);
  port.rxsync();
  const rx = port.rx[0].r;
  ringSetHead(port.mem, rx, 4);
  ringSetCur(port.mem, rx, 4);
  const woke = port.poll({ rx: true }, 2000);
  setTimeout(() => dev.receive(Uint8Array.of(9)), 10);
  assert.deepEqual(await woke, { rx: true, tx: false });
});

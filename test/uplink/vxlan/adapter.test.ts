/**
 * The VXLAN adapter's TX ring path (txsync, a NicPort's ring): a sync that stopped for want
 * of pool cells resumes once cells are free again, even when they were freed by sends that
 * threw (a closed socket) and so no completion will ever come.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../../src/netmap/layout.js";
import type { NetmapPort } from "../../../src/netmap/port.js";
import { nmRingNext } from "../../../src/netmap/ring.js";
import { NicPort } from "../../../src/uplink/nic-port.js";
import { VxlanAdapter, type VxlanSender } from "../../../src/uplink/vxlan/adapter.js";
import { ValePort } from "../../../src/vale/port.js";
import { ValeSwitch } from "../../../src/vale/switch.js";

/** Holds each send's completion until `complete`, or throws as a closed socket does. */
class FakeSender implements VxlanSender {
  closed = false;
  readonly pending: ((err: Error | null) => void)[] = [];
  send(
    _msg: Uint8Array,
    _offset: number,
    _length: number,
    _port: number,
    _address: string,
    cb: (err: Error | null) => void,
  ): void {
    if (this.closed) throw new Error("Not running");
    this.pending.push(cb);
  }
  complete(): void {
    for (const cb of this.pending.splice(0)) cb(null);
  }
}

/** Puts `n` 60-byte broadcast frames on p's TX ring and syncs. */
function put(p: NetmapPort, n: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  for (let j = 0; j < n; j++) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.fill(0, off, off + 60);
    m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00, j & 0xff], off);
    slotSetLen(m, s, 60);
    slotSetFlags(m, s, 0);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("a txsync stalled for cells resumes when sends that threw freed them (no completion comes)", async () => {
  const slots = 64;
  const sender = new FakeSender();
  const adapter = new VxlanAdapter({
    name: "vx",
    vni: 42,
    mtu: 1500,
    remotes: [{ address: "192.0.2.2", port: 4789 }],
    learntPort: 4789,
    sender,
    slots,
  });
  const sw = new ValeSwitch(`vxs${process.pid}`);
  const g = new ValePort(sw, `${sw.name}:g`, slots).open();
  const nic = new NicPort(sw, adapter);
  try {
    // Two rings' worth in flight, never completed: 126 of the 128 cells held.
    put(g, slots - 1);
    put(g, slots - 1);
    assert.equal(adapter.counters.get("tx_packets"), 2 * (slots - 1));
    assert.equal(adapter.cellsInFlight, 2 * (slots - 1));
    // The socket closes: the next sync takes the last two cells, stops there, and their
    // sends throw, which frees them at once.
    sender.closed = true;
    put(g, slots - 1);
    assert.equal(adapter.counters.get("tx_errors"), 2);
    // Nothing completes, yet the frames left in the ring must still be taken (and counted
    // as lost to the closed socket) now that cells are free.
    await until("the stalled ring to drain", () => adapter.counters.get("tx_errors") === slots - 1);
    assert.equal(adapter.counters.get("tx_packets"), 2 * (slots - 1), "no frame counted sent twice");
    sender.complete();
    assert.equal(adapter.cellsInFlight, 0, "every held cell came back");
    // Open again: the ring carries frames as before.
    sender.closed = false;
    put(g, 10);
    assert.equal(adapter.counters.get("tx_packets"), 2 * (slots - 1) + 10);
    sender.complete();
    assert.equal(adapter.cellsInFlight, 0);
  } finally {
    nic.detach();
  }
});

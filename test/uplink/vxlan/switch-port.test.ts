import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
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
import { VxlanAdapter, type VxlanSender } from "../../../src/uplink/vxlan/adapter.js";
import { VxlanSwitchPort } from "../../../src/uplink/vxlan/switch-port.js";
import { ValePort } from "../../../src/vale/port.js";
import { ValeSwitch } from "../../../src/vale/switch.js";

const VNI = 42;
const MTU = 1450;

/** A socket stand-in: records each datagram's bytes at send time and holds its callback. */
class FakeSender implements VxlanSender {
  readonly sent: Uint8Array[] = [];
  readonly pending: ((err: Error | null) => void)[] = [];
  send(
    msg: Uint8Array,
    offset: number,
    length: number,
    _port: number,
    _address: string,
    cb: (err: Error | null) => void,
  ): void {
    this.sent.push(new Uint8Array(msg.subarray(offset, offset + length)));
    this.pending.push(cb);
  }
  complete(): void {
    for (const cb of this.pending.splice(0)) cb(null);
  }
}

function rig(slots = 8) {
  const sender = new FakeSender();
  const adapter = new VxlanAdapter({
    name: "vxlan0",
    vni: VNI,
    mtu: MTU,
    remotes: [{ address: "192.0.2.2", port: 4789 }],
    learntPort: 4789,
    sender,
    slots,
  });
  const sw = new ValeSwitch(`vt${process.pid}`);
  const guest = new ValePort(sw, `${sw.name}:g`, 64).open();
  const port = new VxlanSwitchPort(sw, adapter.device(), adapter);
  return { sender, adapter, sw, guest, port };
}

/** Puts broadcast frames of the given lengths (bytes from `seed`) on p's TX ring and syncs. */
function put(p: NetmapPort, lens: number[], seed = 1): Uint8Array[] {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  const frames: Uint8Array[] = [];
  for (const [j, len] of lens.entries()) {
    const f = new Uint8Array(len);
    for (let i = 0; i < len; i++) f[i] = (seed * 31 + j * 7 + i) & 0xff;
    f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1], 0);
    const s = ringSlot(r, h);
    m.u8.set(f, p.region.bufOff(slotBufIdx(m, s)));
    slotSetLen(m, s, len);
    slotSetFlags(m, s, 0);
    frames.push(f);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
  return frames;
}

test("uplink switch port: each frame leaves as header + frame, never through the device's TX ring", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 14, max: MTU + 14 + 40 }), { minLength: 1, maxLength: 12 }),
      fc.nat(),
      (lens, seed) => {
        const { sender, adapter, guest, port } = rig();
        try {
          const frames = put(guest, lens, seed);
          const fit = frames.filter((f) => f.length <= MTU + 14);
          assert.equal(sender.sent.length, fit.length);
          fit.forEach((f, i) => {
            const d = sender.sent[i];
            assert.deepEqual([...d.subarray(0, 8)], [0x08, 0, 0, 0, 0, 0, VNI, 0]);
            assert.deepEqual(d.subarray(8), f);
          });
          assert.equal(adapter.counters.get("tx_dropped"), frames.length - fit.length);
          assert.equal(adapter.counters.get("tx_packets"), fit.length);
          // The direct path wrote no slot of the device's TX ring.
          const tx = adapter.device().region;
          assert.equal(ringHead(tx.mem, adapter.txRing), 0);
        } finally {
          port.detach();
          guest.close();
        }
      },
    ),
    { numRuns: 50 },
  );
});

test("uplink switch port: a full send pool drops at the switch (counted), then sends resume", () => {
  const { sender, adapter, guest, port } = rig(8); // 16 pool cells
  try {
    put(guest, new Array(20).fill(60));
    assert.equal(sender.sent.length, 16, "one send per pool cell, no more while all are held");
    assert.equal(port.counters.get("rxDrops"), 4, "the switch counts what the uplink could not take");
    assert.equal(adapter.cellsInFlight, 16);
    sender.complete();
    assert.equal(adapter.cellsInFlight, 0);
    put(guest, [60, 60]);
    assert.equal(sender.sent.length, 18);
  } finally {
    port.detach();
    guest.close();
  }
});

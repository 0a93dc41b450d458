import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../src/base/errors.js";
import { type AdapterConfig, type NetmapAdapter, ringPairConfig } from "../../src/netmap/adapter.js";
import type { NetmapDevice } from "../../src/netmap/context.js";
import { NetmapContext } from "../../src/netmap/context.js";
import { GenericAdapter } from "../../src/netmap/generic.js";
import type { KRing } from "../../src/netmap/kring.js";
import {
  NR_RX,
  NR_TX,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetBufIdx,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { NetmapRegion, regionSpecFor } from "../../src/netmap/mem.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { installVale, valeAttach, valeDetach } from "../../src/vale/install.js";

const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const mac = (x: number) => [2, 0, 0, 0, 0, x];
const frame = (dst: number[], src: number[], tag: number) => Uint8Array.from([...dst, ...src, 8, 0, tag]);

function setup(host: boolean, slots = 16) {
  const wire: Uint8Array[] = [];
  const up: Uint8Array[] = [];
  const dev = new GenericAdapter(
    "eth0",
    { send: (f) => wire.push(f.slice()) },
    { slots, sendUp: (f) => up.push(f.slice()) },
  );
  const ctx = new NetmapContext();
  ctx.attach(dev.device());
  const reg = installVale(ctx, slots);
  const vp = ctx.open("vale0:v");
  const [nic, hostPort] = valeAttach(reg, ctx, "vale0:eth0", host);
  return { dev, ctx, reg, vp, nic, hostPort, wire, up };
}

function send(p: NetmapPort, frames: Uint8Array[]): void {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  for (const f of frames) {
    const s = ringSlot(r, h);
    m.u8.set(f, p.region.bufOff(slotBufIdx(m, s)));
    slotSetLen(m, s, f.length);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
}

function recvTags(p: NetmapPort): number[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const out: number[] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    out.push(m.u8[p.region.bufOff(slotBufIdx(m, s)) + 14]);
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return out;
}

test("vale-ctl -a: the NIC's receptions enter the switch and the switch's output leaves on the wire", () => {
  const { dev, vp, nic, wire, reg } = setup(false);
  assert.equal(reg.switches.get("vale0")!.portIndex("vale0:eth0"), nic.index);
  dev.receive(frame(BCAST, mac(1), 1));
  dev.receive(frame(mac(9), mac(1), 2));
  assert.equal(nic.pump(), 2);
  assert.deepEqual(recvTags(vp), [1, 2]);
  send(vp, [frame(mac(1), mac(9), 3)]);
  assert.deepEqual(
    wire.map((f) => f[14]),
    [3],
    "the switch learnt mac 1 behind the NIC and sent there",
  );
  assert.equal(nic.counters.get("txPackets"), 2);
  assert.equal(nic.counters.get("rxPackets"), 1);
});

test("vale-ctl -h: the host stack is a second port, IF^", () => {
  const { dev, vp, hostPort, wire, up } = setup(true);
  assert.ok(hostPort !== undefined);
  send(vp, [frame(BCAST, mac(9), 4)]);
  assert.deepEqual(
    wire.map((f) => f[14]),
    [4],
  );
  assert.deepEqual(
    up.map((f) => f[14]),
    [4],
    "broadcast reaches the host stack too",
  );
  dev.hostRings!.fromHost(frame(mac(9), mac(7), 5));
  assert.equal(hostPort.pump(), 1);
  assert.deepEqual(recvTags(vp), [5]);
  send(vp, [frame(mac(7), mac(9), 6)]);
  assert.deepEqual(
    up.map((f) => f[14]),
    [4, 6],
    "mac 7 was learnt on the host port",
  );
  assert.equal(wire.length, 1);
});

test("attach refuses unknown devices and twice; detach frees the port name", () => {
  const { ctx, reg } = setup(false);
  assert.throws(
    () => valeAttach(reg, ctx, "vale0:eth9"),
    (e: unknown) => e instanceof PvnetError && e.code === "ENXIO",
  );
  assert.throws(() => valeAttach(reg, ctx, "vale0:eth0"), /already a port/);
  assert.equal(valeDetach(reg, "vale0:eth0"), true);
  assert.equal(reg.switches.get("vale0")!.portIndex("vale0:eth0"), -1);
  assert.equal(valeAttach(reg, ctx, "vale0:eth0").length, 1);
});

/**
 * A NIC whose transmissions complete only while `reclaim` is on (the wire is busy
 * otherwise): txsync puts [hwcur, rhead) on the wire but moves hwtail only then, so the
 * switch's deliveries into its TX ring run out of room.
 */
class StallingNic implements NetmapAdapter {
  readonly name = "eth0";
  readonly region: NetmapRegion;
  readonly txRing: number;
  readonly rxRing: number;
  readonly wire: number[] = [];
  reclaim = false;
  /** Makes txsync throw, as a broken device (or a RemoteIf user's doing) would. */
  explode = false;
  readonly #slots: number;

  constructor(slots: number) {
    this.#slots = slots;
    this.region = new NetmapRegion(
      500,
      regionSpecFor(1, {
        txRings: 1,
        rxRings: 1,
        hostTxRings: 0,
        hostRxRings: 0,
        txSlots: slots,
        rxSlots: slots,
      }),
    );
    this.txRing = this.region.allocRingWithBufs(slots, NR_TX, 0, "stalling nic");
    this.rxRing = this.region.allocRingWithBufs(slots, NR_RX, 0, "stalling nic");
  }

  config(): AdapterConfig {
    return ringPairConfig(this.#slots, this.region.bufSize);
  }

  register(): void {}

  txsync(k: KRing): void {
    if (this.explode) throw new RangeError("offset is out of bounds");
    const m = this.region.mem;
    for (let i = k.hwcur; i !== k.rhead; i = i + 1 === k.numSlots ? 0 : i + 1)
      this.wire.push(m.u8[this.region.bufOff(slotBufIdx(m, ringSlot(k.r, i))) + 14]);
    k.hwcur = k.rhead;
    if (this.reclaim) k.hwtail = k.rhead === 0 ? k.numSlots - 1 : k.rhead - 1;
  }

  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
  }

  device(): NetmapDevice {
    return {
      name: this.name,
      adapter: this,
      region: this.region,
      txRings: [this.txRing],
      rxRings: [this.rxRing],
      hostTxRings: [],
      hostRxRings: [],
    };
  }
}

function stallingSetup(nicSlots: number) {
  const nic = new StallingNic(nicSlots);
  const ctx = new NetmapContext();
  ctx.attach(nic.device());
  const reg = installVale(ctx, 16);
  const vp = ctx.open("vale0:v");
  const [port] = valeAttach(reg, ctx, "vale0:eth0");
  return { nic, ctx, vp, port };
}

test("a device whose txsync throws loses its rings on the switch; the sender and the other ports carry on", () => {
  const { nic, ctx, vp, port } = stallingSetup(8);
  const other = ctx.open("vale0:w");
  nic.explode = true;
  send(vp, [frame(BCAST, mac(9), 1)]);
  assert.equal(port.faults, 1);
  assert.equal(port.port, null, "the device's rings left the switch");
  assert.deepEqual(recvTags(other), [1], "the other port got the frame");
  send(vp, [frame(BCAST, mac(9), 2)]);
  assert.deepEqual(recvTags(other), [2]);
  assert.equal(port.counters.get("rxDrops"), 1, "the unbound port's share is a counted drop");
});

test("a NIC that cannot take more: the switch fills its TX ring, drops the rest and counts it", () => {
  const { nic, vp, port } = stallingSetup(8);
  send(
    vp,
    Array.from({ length: 15 }, (_, i) => frame(BCAST, mac(9), i)),
  );
  assert.deepEqual(nic.wire, [0, 1, 2, 3, 4, 5, 6], "the 7 slots a ring of 8 gives the switch");
  assert.equal(port.counters.get("rxDrops"), 8);
  assert.equal(port.counters.get("rxPackets"), 7);
  nic.reclaim = true;
  send(vp, [frame(BCAST, mac(9), 100)]);
  assert.deepEqual(nic.wire.slice(7), [100], "room again once the NIC completes");
  assert.equal(port.counters.get("rxDrops"), 8);
});

test("frames from a VALE port reach the wire in order, the overflow dropped and counted", () => {
  let overflowed = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 15 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
      (bursts) => {
        const { nic, vp, port } = stallingSetup(8);
        let tag = 0;
        for (const [n, reclaim] of bursts) {
          nic.reclaim = reclaim;
          send(
            vp,
            Array.from({ length: n }, () => frame(mac(1), mac(9), tag++ & 0xff)),
          );
        }
        const drops = port.counters.get("rxDrops");
        if (drops > 0) overflowed++;
        assert.equal(nic.wire.length + drops, tag, "every frame reached the wire or was counted as dropped");
        assert.equal(port.counters.get("rxPackets"), nic.wire.length);
        // In order: what reached the wire is the sent sequence with the drops left out (at
        // most 180 frames, so tags do not wrap).
        assert.ok(
          nic.wire.every((t, i) => i === 0 || t > nic.wire[i - 1]),
          `in order: ${nic.wire.join(",")}`,
        );
      },
    ),
    { numRuns: 100 },
  );
  assert.ok(overflowed > 10, `the generator reached a full TX ring (${overflowed} of 100 runs)`);
});

test("a destination slot with a broken buffer drops the packet instead of writing out of bounds", () => {
  const { vp, nic, dev, reg } = setup(false);
  const m = vp.mem;
  const r = vp.rx[0].r;
  // The user scribbles a garbage buf_idx into RX slots it does not own (no sync follows).
  for (let i = 0; i < vp.rx[0].numSlots; i++) slotSetBufIdx(m, ringSlot(r, i), 0xfffffff);
  dev.receive(frame(BCAST, mac(1), 1));
  nic.pump();
  assert.equal(slotLen(m, ringSlot(r, 0)), 0);
  assert.equal(nmRingSpace(m, r), 0);
  assert.equal(vp.rx[0].hwtail, 0, "nothing was published");
  assert.equal(reg.ports.get("vale0:v")!.counters.get("rxDrops"), 1);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../src/base/errors.js";
import { NetmapContext } from "../../src/netmap/context.js";
import { GenericAdapter } from "../../src/netmap/generic.js";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetBufIdx,
  slotSetLen,
} from "../../src/netmap/layout.js";
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

test("frames from a VALE port reach the wire in order, the overflow dropped and counted", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 10 }), (bursts) => {
      const { vp, nic, wire } = setup(false, 16);
      let tag = 0;
      const want: number[] = [];
      for (const n of bursts) {
        const frames = Array.from({ length: Math.min(n, 15) }, () => frame(mac(1), mac(9), tag++ & 0xff));
        send(vp, frames);
        for (const f of frames) want.push(f[14]);
      }
      // The generic NIC completes inside txsync, so nothing is ever left staged or dropped.
      assert.deepEqual(
        wire.map((f) => f[14]),
        want,
      );
      assert.equal(nic.counters.get("rxDrops"), 0);
    }),
    { numRuns: 100 },
  );
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

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NetmapContext } from "../../src/netmap/context.js";
import { GenericAdapter } from "../../src/netmap/generic.js";
import {
  NR_FORWARD,
  NS_BUF_CHANGED,
  NS_FORWARD,
  NS_MOREFRAG,
  ringHead,
  ringSetCur,
  ringSetFlags,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";

function setup(spec = "netmap:tap0*", slots = 8, queueLen = 4) {
  const up: number[][] = [];
  const wire: number[][] = [];
  const dev = new GenericAdapter(
    "tap0",
    { send: (f) => wire.push([...f]) },
    { slots, queueLen, sendUp: (f) => up.push([...f]) },
  );
  const ctx = new NetmapContext();
  ctx.attach(dev.device());
  const port = ctx.open(spec);
  return { dev, host: dev.hostRings!, port, up, wire };
}

/** Puts frames on TX kring `i` of `p` (flags per frame) and runs txsync. */
function put(p: NetmapPort, i: number, frames: { bytes: number[]; flags?: number }[]): void {
  const m = p.mem;
  const r = p.tx[i].r;
  let h = ringHead(m, r);
  for (const f of frames) {
    const s = ringSlot(r, h);
    m.u8.set(f.bytes, p.region.bufOff(slotBufIdx(m, s)));
    slotSetLen(m, s, f.bytes.length);
    slotSetFlags(m, s, f.flags ?? 0);
    h = nmRingNext(p.tx[i].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
}

/** Reads every slot waiting on RX kring `i`; `mark` gives flags to set before release. */
function take(p: NetmapPort, i: number, mark: (n: number) => number = () => 0): number[][] {
  const m = p.mem;
  const r = p.rx[i].r;
  const out: number[][] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    out.push([...m.u8.subarray(off, off + slotLen(m, s))]);
    slotSetFlags(m, s, slotFlags(m, s) | mark(out.length - 1));
    h = nmRingNext(p.rx[i].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return out;
}

test("host TX goes up to the host stack, NS_MOREFRAG chains joined into one frame", () => {
  const { port, up, wire, host } = setup();
  assert.equal(port.tx.length, 2, "netmap:IF* binds NIC and host rings");
  assert.ok(port.tx[1].host && !port.tx[0].host);
  put(port, 1, [{ bytes: [1, 2] }, { bytes: [3], flags: NS_MOREFRAG }, { bytes: [4, 5] }]);
  assert.deepEqual(up, [
    [1, 2],
    [3, 4, 5],
  ]);
  assert.deepEqual(wire, [], "nothing reached the NIC");
  assert.equal(host.counters.get("upPackets"), 2);
  assert.equal(nmRingSpace(port.mem, port.tx[1].r), 7, "host TX completes inside the sync");
});

test("frames from the host stack arrive on the host RX ring; a full queue drops and counts", () => {
  const { port, host } = setup("netmap:tap0^", 8, 4);
  for (let i = 0; i < 6; i++) host.fromHost(Uint8Array.of(i, 0xaa));
  assert.equal(host.counters.get("rxDrops"), 2);
  port.rxsync();
  assert.deepEqual(take(port, 0), [
    [0, 0xaa],
    [1, 0xaa],
    [2, 0xaa],
    [3, 0xaa],
  ]);
  assert.equal(host.queued, 0);
});

test("NR_FORWARD: NIC RX slots released with NS_FORWARD go up; without NR_FORWARD they do not", () => {
  const { dev, port, up } = setup("netmap:tap0");
  const rx = port.rx[0];
  dev.receive(Uint8Array.of(1));
  dev.receive(Uint8Array.of(2));
  port.rxsync();
  take(port, 0, () => NS_FORWARD);
  port.rxsync();
  assert.deepEqual(up, [], "NS_FORWARD alone is not enough");
  ringSetFlags(port.mem, rx.r, NR_FORWARD);
  dev.receive(Uint8Array.of(3));
  dev.receive(Uint8Array.of(4));
  port.rxsync();
  take(port, 0, (n) => (n === 1 ? NS_FORWARD : 0));
  port.rxsync();
  assert.deepEqual(up, [[4]]);
  assert.equal(port.forwarded.up, 1);
  assert.equal(slotFlags(port.mem, ringSlot(rx.r, 3)) & NS_FORWARD, 0, "the flag is consumed");
});

test("NR_FORWARD on host RX: NS_FORWARD slots go to the NIC TX ring by swapping buffers", () => {
  const { port, host, wire } = setup("netmap:tap0*");
  const m = port.mem;
  const hrx = port.rx[1];
  ringSetFlags(m, hrx.r, NR_FORWARD);
  host.fromHost(Uint8Array.of(7, 7));
  host.fromHost(Uint8Array.of(8, 8));
  port.rxsync();
  const hostBuf = slotBufIdx(m, ringSlot(hrx.r, 0));
  const nicBuf = slotBufIdx(m, ringSlot(port.tx[0].r, 0));
  take(port, 1, (n) => (n === 0 ? NS_FORWARD : 0));
  port.rxsync();
  assert.deepEqual(wire, [[7, 7]], "only the marked frame went out on the wire");
  assert.equal(slotBufIdx(m, ringSlot(port.tx[0].r, 0)), hostBuf, "zero copy: the buffer moved");
  assert.equal(slotBufIdx(m, ringSlot(hrx.r, 0)), nicBuf);
  assert.equal(slotFlags(m, ringSlot(port.tx[0].r, 0)) & NS_BUF_CHANGED, 0, "txsync cleared NS_BUF_CHANGED");
  assert.equal(port.forwarded.down, 1);
});

test("host RX forwarding without the NIC TX rings bound drops and counts", () => {
  const { port, host, wire } = setup("netmap:tap0^");
  ringSetFlags(port.mem, port.rx[0].r, NR_FORWARD);
  host.fromHost(Uint8Array.of(1));
  port.rxsync();
  take(port, 0, () => NS_FORWARD);
  port.rxsync();
  assert.deepEqual(wire, []);
  assert.equal(port.forwarded.dropped, 1);
});

test("transparent forwarding in both directions keeps every buffer owned by exactly one slot", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          nic: fc.integer({ min: 0, max: 9 }),
          fromHost: fc.integer({ min: 0, max: 9 }),
          fwdMask: fc.nat({ max: 1023 }),
        }),
        { maxLength: 25 },
      ),
      (steps) => {
        const { dev, port, host, up, wire } = setup("netmap:tap0*", 8, 6);
        for (const k of port.rx) ringSetFlags(port.mem, k.r, NR_FORWARD);
        let seq = 0;
        const expectUp: number[] = [];
        const expectWire: number[] = [];
        let dropped = 0;
        for (const s of steps) {
          for (let i = 0; i < s.nic; i++) dev.receive(Uint8Array.of(0, seq++ & 0xff));
          for (let i = 0; i < s.fromHost; i++) host.fromHost(Uint8Array.of(1, seq++ & 0xff));
          port.rxsync();
          const mask = (n: number) => ((s.fwdMask >>> n) & 1 ? NS_FORWARD : 0);
          for (const [n, f] of take(port, 0, mask).entries()) if (mask(n)) expectUp.push(f[1]);
          for (const [n, f] of take(port, 1, mask).entries()) if (mask(n)) expectWire.push(f[1]);
          const before = port.forwarded.dropped;
          port.rxsync();
          dropped += port.forwarded.dropped - before;
        }
        assert.deepEqual(
          up.map((f) => f[1]),
          expectUp,
        );
        // The generic NIC completes TX inside the sync, so the NIC TX ring always has room.
        assert.equal(dropped, 0);
        assert.deepEqual(
          wire.map((f) => f[1]),
          expectWire,
        );
        const bufs = new Set<number>();
        let n = 0;
        for (const k of [...port.tx, ...port.rx])
          for (let i = 0; i < k.numSlots; i++) {
            bufs.add(slotBufIdx(port.mem, ringSlot(k.r, i)));
            n++;
          }
        assert.equal(bufs.size, n, "no buffer in two slots");
        assert.ok([...bufs].every((b) => port.region.validBuf(b)));
      },
    ),
    { numRuns: 150 },
  );
});

test("zero copy between two ports of one region: swap buf_idx, set NS_BUF_CHANGED, both syncs accept and clear it", () => {
  const up: number[][] = [];
  const dev = new GenericAdapter("tap0", { send: () => {} }, { slots: 8, sendUp: (f) => up.push([...f]) });
  const ctx = new NetmapContext();
  ctx.attach(dev.device());
  const nic = ctx.open("netmap:tap0");
  const sw = ctx.open("netmap:tap0^");
  assert.equal(nic.region, sw.region);
  const m = nic.mem;
  dev.receive(Uint8Array.of(0xde, 0xad));
  nic.rxsync();
  const rs = ringSlot(nic.rx[0].r, 0);
  const ts = ringSlot(sw.tx[0].r, 0);
  const [a, b] = [slotBufIdx(m, rs), slotBufIdx(m, ts)];
  slotSetBufIdx(m, rs, b);
  slotSetBufIdx(m, ts, a);
  slotSetLen(m, ts, slotLen(m, rs));
  slotSetFlags(m, rs, NS_BUF_CHANGED);
  slotSetFlags(m, ts, NS_BUF_CHANGED);
  ringSetHead(m, sw.tx[0].r, 1);
  ringSetCur(m, sw.tx[0].r, 1);
  ringSetHead(m, nic.rx[0].r, 1);
  ringSetCur(m, nic.rx[0].r, 1);
  sw.txsync();
  nic.rxsync();
  assert.deepEqual(up, [[0xde, 0xad]], "the stack got the frame from the swapped buffer");
  assert.equal(slotFlags(m, ts) & NS_BUF_CHANGED, 0);
  assert.equal(slotFlags(m, rs) & NS_BUF_CHANGED, 0);
  assert.equal(sw.tx[0].resets + nic.rx[0].resets, 0);
  assert.deepEqual([slotBufIdx(m, rs), slotBufIdx(m, ts)], [b, a], "the syncs kept the user's swap");
  for (let i = 0; i < 8; i++) dev.receive(Uint8Array.of(i));
  nic.rxsync();
  assert.equal(nmRingSpace(m, nic.rx[0].r), 7, "slots 1..7 filled; the eighth frame waits");
  ringSetHead(m, nic.rx[0].r, 0);
  ringSetCur(m, nic.rx[0].r, 0);
  nic.rxsync();
  assert.equal(m.u8[nic.region.bufOff(b)], 7, "the eighth frame landed in slot 0's new buffer b");
});

test("poll on a host-ring port wakes when the host stack sends", async () => {
  const { port, host } = setup("netmap:tap0^");
  const woke = port.poll({ rx: true }, 2000);
  setTimeout(() => host.fromHost(Uint8Array.of(1)), 10);
  assert.deepEqual(await woke, { rx: true, tx: false });
});

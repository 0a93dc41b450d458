import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  NS_BUF_CHANGED,
  NS_MOREFRAG,
  NS_NO_LEARN,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { ValeFrags } from "../../src/vale/frags.js";
import { LEARN_BUCKETS, LearnTable } from "../../src/vale/learn.js";
import { ValePort } from "../../src/vale/port.js";
import {
  learningLookup,
  NM_BDG_BATCH_MAX,
  NM_BDG_NOPORT,
  portCounters,
  type ValeAttachment,
  ValeSwitch,
} from "../../src/vale/switch.js";
import { sharedMem } from "../../src/wire/mem.js";

const MAC = {
  A: [2, 0, 0, 0, 0, 0xa],
  B: [2, 0, 0, 0, 0, 0xb],
  C: [2, 0, 0, 0, 0, 0xc],
  D: [2, 0, 0, 0, 0, 0xd],
};
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function makeSwitch(nPorts: number, slots = 64) {
  const sw = new ValeSwitch("vale0");
  const ports = Array.from({ length: nPorts }, (_, i) => new ValePort(sw, `p${i}`, slots));
  const opened = ports.map((p) => p.open());
  return { sw, ports, opened };
}

/**
 * MACs for the run-lookup properties: two unicast MACs sharing a learning bucket (learning
 * one evicts the other), two more unicast, broadcast and a multicast (a group source).
 */
function runMacs(): number[][] {
  const hiOf = (m: number[]) => (m[0] << 8) | m[1];
  const loOf = (m: number[]) => ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0;
  const base = [2, 0, 0, 0, 0, 1];
  const want = LearnTable.bucket(hiOf(base), loOf(base));
  let twin: number[] = [];
  for (let lo = 2; lo < 64 * LEARN_BUCKETS; lo++) {
    const m = [2, 0, (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
    if (LearnTable.bucket(hiOf(m), loOf(m)) === want) {
      twin = m;
      break;
    }
  }
  assert.equal(twin.length, 6);
  return [base, twin, MAC.A, MAC.B, BCAST, [1, 0, 0x5e, 0, 0, 1]];
}

/** Sends frames dst <- src with a one-byte tag in the payload; returns how many went. */
function send(
  p: NetmapPort,
  frames: { dst: number[]; src: number[]; tag: number; flags?: number; len?: number }[],
): number {
  const m = p.mem;
  const r = p.tx[0].r;
  const k = Math.min(frames.length, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const f = frames[i];
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.set([...f.dst, ...f.src, 0x08, 0x00, f.tag], off);
    slotSetLen(m, s, f.len ?? 60);
    slotSetFlags(m, s, f.flags ?? 0);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
  return k;
}

/** Receives everything waiting; returns the tags, in order. */
function recv(p: NetmapPort): number[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const tags: number[] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    assert.equal(slotLen(m, s), 60);
    tags.push(m.u8[p.region.bufOff(slotBufIdx(m, s)) + 14]);
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return tags;
}

test("VALE floods unknown and broadcast destinations, then forwards by learnt source MAC", () => {
  const {
    opened: [a, b, c],
  } = makeSwitch(3);
  send(a, [{ dst: BCAST, src: MAC.A, tag: 1 }]);
  assert.deepEqual(
    [recv(a), recv(b), recv(c)],
    [[], [1], [1]],
    "broadcast reaches every port but the sender",
  );
  send(b, [{ dst: MAC.A, src: MAC.B, tag: 2 }]);
  assert.deepEqual([recv(a), recv(b), recv(c)], [[2], [], []], "A was learnt on port 0");
  send(c, [{ dst: MAC.D, src: MAC.C, tag: 3 }]);
  assert.deepEqual([recv(a), recv(b), recv(c)], [[3], [3], []], "unknown unicast floods");
  send(a, [
    { dst: MAC.B, src: MAC.A, tag: 4 },
    { dst: MAC.C, src: MAC.A, tag: 5 },
    { dst: MAC.B, src: MAC.A, tag: 6 },
  ]);
  assert.deepEqual([recv(a), recv(b), recv(c)], [[], [4, 6], [5]], "batch split by destination, order kept");
});

test("a full destination drops and counts; the sender never waits", () => {
  const {
    ports,
    opened: [a, b],
  } = makeSwitch(2, 16);
  send(b, [{ dst: BCAST, src: MAC.B, tag: 0 }]);
  recv(a);
  let sent = 0;
  for (let round = 0; round < 4; round++)
    sent += send(
      a,
      Array.from({ length: 15 }, (_, i) => ({ dst: MAC.B, src: MAC.A, tag: i })),
    );
  assert.equal(sent, 60, "TX completes at once: the sender always has room");
  assert.equal(recv(b).length, 15, "an RX ring holds num_slots - 1");
  assert.equal(ports[1].counters.get("rxDrops"), 45);
  assert.equal(ports[0].counters.get("txPackets"), 60);
});

test("NS_NO_LEARN, short frames, a custom lookup and detach", () => {
  const {
    sw,
    ports,
    opened: [a, b, c],
  } = makeSwitch(3);
  send(a, [{ dst: BCAST, src: MAC.A, tag: 1, flags: NS_NO_LEARN }]);
  recv(b);
  recv(c);
  send(b, [{ dst: MAC.A, src: MAC.B, tag: 2 }]);
  assert.deepEqual([recv(a), recv(c)], [[2], [2]], "A was not learnt, so B's frame floods");
  send(a, [{ dst: MAC.B, src: MAC.A, tag: 3, len: 10 }]);
  assert.equal(ports[0].counters.get("txErrors"), 1);
  sw.setLookup((_m, _off, _len, src) => (src === 0 ? 2 : NM_BDG_NOPORT));
  send(a, [{ dst: MAC.B, src: MAC.A, tag: 4 }]);
  send(b, [{ dst: MAC.A, src: MAC.B, tag: 5 }]);
  assert.deepEqual([recv(a), recv(b), recv(c)], [[], [], [4]]);
  sw.setLookup(null);
  ports[1].detach();
  assert.deepEqual(
    sw.ports().map((p) => p.name),
    ["p0", "p2"],
  );
  send(c, [{ dst: MAC.B, src: MAC.C, tag: 6 }]);
  assert.deepEqual(recv(a), [6], "B was forgotten with its port: flood to who is left");
});

test("multi-slot packets (NS_MOREFRAG) travel whole, with their fragment count, or are dropped whole", () => {
  const {
    ports,
    opened: [a, b],
  } = makeSwitch(2, 8);
  send(b, [{ dst: BCAST, src: MAC.B, tag: 0 }]);
  recv(a);
  const m = a.mem;
  const r = a.tx[0].r;
  const put = (frags: number[], last: boolean) => {
    let h = ringHead(m, r);
    frags.forEach((len, i) => {
      const s = ringSlot(r, h);
      const off = a.region.bufOff(slotBufIdx(m, s));
      if (i === 0) m.u8.set([...MAC.B, ...MAC.A, 0x08, 0x00], off);
      m.u8[off + 14] = 0x40 + i;
      slotSetLen(m, s, len);
      slotSetFlags(m, s, i + 1 < frags.length || !last ? NS_MOREFRAG : 0);
      h = nmRingNext(8, h);
    });
    ringSetHead(m, r, h);
    ringSetCur(m, r, h);
    a.txsync();
  };
  put([60, 100, 20], true);
  b.rxsync();
  const bm = b.mem;
  const br = b.rx[0].r;
  assert.equal(nmRingSpace(bm, br), 3);
  const got = [0, 1, 2].map((i) => {
    const s = ringSlot(br, (ringHead(bm, br) + i) % 8);
    return [slotLen(bm, s), slotFlags(bm, s), bm.u8[b.region.bufOff(slotBufIdx(bm, s)) + 14]];
  });
  assert.deepEqual(got, [
    [60, 0x300 | NS_MOREFRAG, 0x40],
    [100, 0x300 | NS_MOREFRAG, 0x41],
    [20, 0x300, 0x42],
  ]);
  // A packet of 5 slots does not fit in the 4 free slots left: dropped whole.
  put([60, 60, 60, 60, 60], true);
  assert.equal(ports[1].counters.get("rxDrops"), 1);
  // A chain cut off by the end of the sync is a broken packet.
  put([60, 60], false);
  assert.equal(ports[0].counters.get("txErrors"), 1);
});

test("VALE TX: a bad NS_BUF_CHANGED buffer drops its packet into txErrors, the rest of the batch goes, no ring reset", () => {
  const {
    ports,
    opened: [a, b],
  } = makeSwitch(2, 16);
  send(b, [{ dst: BCAST, src: MAC.B, tag: 0 }]);
  recv(a);
  const m = a.mem;
  const r = a.tx[0].r;
  const h0 = ringHead(m, r);
  const slot = (i: number) => ringSlot(r, (h0 + i) % 16);
  for (let i = 0; i < 4; i++) {
    m.u8.set([...MAC.B, ...MAC.A, 0x08, 0x00, i + 1], a.region.bufOff(slotBufIdx(m, slot(i))));
    slotSetLen(m, slot(i), 60);
    slotSetFlags(m, slot(i), 0);
  }
  // Slot 1 names a buffer past the pool; slots 2 and 3 trade buffers (good changes).
  const orig = slotBufIdx(m, slot(1));
  slotSetBufIdx(m, slot(1), a.region.nBufs + 7);
  slotSetFlags(m, slot(1), NS_BUF_CHANGED);
  const [b2, b3] = [slotBufIdx(m, slot(2)), slotBufIdx(m, slot(3))];
  slotSetBufIdx(m, slot(2), b3);
  slotSetBufIdx(m, slot(3), b2);
  slotSetFlags(m, slot(2), NS_BUF_CHANGED);
  slotSetFlags(m, slot(3), NS_BUF_CHANGED);
  ringSetHead(m, r, (h0 + 4) % 16);
  ringSetCur(m, r, (h0 + 4) % 16);
  a.txsync();
  assert.equal(ports[0].counters.get("txErrors"), 1, "the bad packet is dropped and counted");
  assert.equal(a.tx[0].resets, 0, "VALE does not reset the ring for it");
  assert.equal(ringHead(m, r), (h0 + 4) % 16);
  assert.equal(ringTail(m, r), (h0 + 3) % 16, "the whole batch completed");
  assert.deepEqual(recv(b), [1, 4, 3], "the rest went, from the buffers the user put there");
  // The slot comes back as the user left it: mended, it sends like any other.
  slotSetBufIdx(m, slot(1), orig);
  slotSetFlags(m, slot(1), NS_BUF_CHANGED);
  assert.equal(send(a, [{ dst: MAC.B, src: MAC.A, tag: 5 }]), 1);
  assert.deepEqual(recv(b), [5]);
  assert.equal(ports[0].counters.get("txErrors"), 1);
});

test("VALE RX keeps the common check: releasing a bad NS_BUF_CHANGED buffer resets the ring, the user gets the slots back", () => {
  const {
    ports,
    opened: [a, b],
  } = makeSwitch(2, 8);
  const m = b.mem;
  const r = b.rx[0].r;
  send(
    a,
    [1, 2, 3].map((tag) => ({ dst: BCAST, src: MAC.A, tag })),
  );
  b.rxsync();
  assert.equal(nmRingSpace(m, r), 3);
  const slot = (i: number) => ringSlot(r, i);
  // Slots 0 and 2 trade buffers (good), slot 1 names a reserved buffer (bad).
  const [b0, b1, b2] = [0, 1, 2].map((i) => slotBufIdx(m, slot(i)));
  slotSetBufIdx(m, slot(0), b2);
  slotSetBufIdx(m, slot(2), b0);
  slotSetFlags(m, slot(0), NS_BUF_CHANGED);
  slotSetFlags(m, slot(2), NS_BUF_CHANGED);
  slotSetBufIdx(m, slot(1), 1);
  slotSetFlags(m, slot(1), NS_BUF_CHANGED);
  ringSetHead(m, r, 3);
  ringSetCur(m, r, 3);
  b.rxsync();
  assert.equal(b.rx[0].resets, 1);
  assert.equal(ringHead(m, r), 0, "nothing released: all three slots are the user's again");
  assert.deepEqual([slotBufIdx(m, slot(1)), slotLen(m, slot(1))], [0, 0], "reinit cleaned the bad slot");
  slotSetBufIdx(m, slot(1), b1);
  ringSetHead(m, r, 3);
  ringSetCur(m, r, 3);
  b.rxsync();
  assert.equal(b.rx[0].resets, 1);
  for (const i of [0, 2]) assert.equal(slotFlags(m, slot(i)) & NS_BUF_CHANGED, 0);
  // Every slot takes deliveries again: the ring holds num_slots - 1, none dropped.
  assert.equal(
    send(
      a,
      [4, 5, 6, 7, 8, 9, 10].map((tag) => ({ dst: BCAST, src: MAC.A, tag })),
    ),
    7,
  );
  assert.deepEqual(recv(b), [4, 5, 6, 7, 8, 9, 10]);
  assert.equal(ports[1].counters.get("rxDrops"), 0);
  assert.equal(slotBufIdx(m, slot(0)), b2, "the user's swap stands");
});

/** A port taking batches by reference that records, per frame, its first 12 bytes' tag. */
function batchPort(sw: ValeSwitch, name: string, got: number[]): number {
  const p: ValeAttachment = {
    name,
    get region(): never {
      throw new Error("no ring region");
    },
    counters: portCounters(),
    rxKring: () => null,
    rxIrq: () => {},
    takesOffloads: true,
    deliverFrags: (f) => {
      got.push(f.mem[0].u8[f.off[0] + 12]);
      return true;
    },
    deliverBatch: (frames, idx, at, n, taken) => {
      for (let k = 0; k < n; k++) {
        const f = frames[idx[at + k]];
        got.push(f.mem[0].u8[f.off[0] + 12]);
        taken[k] = 1;
      }
    },
  };
  return sw.attach(p);
}

test("forwardBatch: runs of frames with one MAC pair go where frame-by-frame learning sends them (bucket collisions, floods, group sources)", () => {
  const macs = runMacs();
  const frameArb = fc.record({
    src: fc.integer({ min: 0, max: 3 }),
    dMac: fc.integer({ min: 0, max: macs.length - 1 }),
    sMac: fc.integer({ min: 0, max: macs.length - 1 }),
    // Runs of one pair are the case the switch shortcuts: repeat a frame often.
    times: fc.integer({ min: 1, max: 5 }),
  });
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 1, max: 90 }),
      (spec, cut) => {
        const mem = sharedMem(1 << 16);
        const frames: { src: number; f: ValeFrags }[] = [];
        let tag = 0;
        for (const s of spec)
          for (let t = 0; t < s.times && frames.length < 200; t++) {
            const off = frames.length * 64;
            mem.u8.set(macs[s.dMac], off);
            mem.u8.set(macs[s.sMac], off + 6);
            mem.u8[off + 12] = tag++ & 0xff;
            const f = new ValeFrags(mem);
            f.push(mem, off, 60);
            frames.push({ src: s.src, f });
          }
        // The same switch with a lookup that is not the learning one takes the per-frame path.
        const runs = new ValeSwitch("runs");
        const model = new ValeSwitch("model");
        model.setLookup((m, off, len, src, sw) => learningLookup(m, off, len, src, sw));
        const got: number[][][] = [[], []];
        for (let p = 0; p < 4; p++) {
          got[0].push([]);
          got[1].push([]);
          batchPort(runs, `r${p}`, got[0][p]);
          batchPort(model, `m${p}`, got[1][p]);
        }
        // Consecutive frames of one sender go as one batch, at most `cut` at a time.
        for (let i = 0; i < frames.length; ) {
          let j = i + 1;
          while (j < frames.length && j - i < cut && frames[j].src === frames[i].src) j++;
          const part = frames.slice(i, j).map((x) => x.f);
          runs.forwardBatch(frames[i].src, part, part.length);
          model.forwardBatch(frames[i].src, part, part.length);
          i = j;
        }
        assert.deepEqual(got[0], got[1]);
      },
    ),
    { numRuns: 200 },
  );
});

test("forward (ring ports): runs of frames with one MAC pair go where frame-by-frame learning sends them (bucket collisions, NS_NO_LEARN, floods)", () => {
  const macs = runMacs();
  const frameArb = fc.record({
    src: fc.integer({ min: 0, max: 3 }),
    dMac: fc.integer({ min: 0, max: macs.length - 1 }),
    sMac: fc.integer({ min: 0, max: macs.length - 1 }),
    noLearn: fc.boolean(),
    times: fc.integer({ min: 1, max: 5 }),
  });
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 80 }),
      fc.integer({ min: 1, max: 40 }),
      (spec, cut) => {
        const frames: { src: number; dst: number[]; smac: number[]; flags: number; tag: number }[] = [];
        for (const s of spec)
          for (let t = 0; t < s.times; t++)
            frames.push({
              src: s.src,
              dst: macs[s.dMac],
              smac: macs[s.sMac],
              flags: s.noLearn ? NS_NO_LEARN : 0,
              tag: frames.length & 0xff,
            });
        // The model's lookup is not the learning one itself: it takes the per-frame path.
        const runs = makeSwitch(4);
        const model = makeSwitch(4);
        model.sw.setLookup((m, off, len, src, sw) => learningLookup(m, off, len, src, sw));
        const got: number[][][] = [
          [[], [], [], []],
          [[], [], [], []],
        ];
        // Consecutive frames of one sender go in one txsync, at most `cut` at a time; every
        // port drains after each, so no ring fills.
        for (let i = 0; i < frames.length; ) {
          let j = i + 1;
          while (j < frames.length && j - i < cut && frames[j].src === frames[i].src) j++;
          const part = frames
            .slice(i, j)
            .map((f) => ({ dst: f.dst, src: f.smac, tag: f.tag, flags: f.flags }));
          [runs, model].forEach((s, k) => {
            assert.equal(send(s.opened[frames[i].src], part), part.length);
            s.opened.forEach((p, q) => {
              got[k][q].push(...recv(p));
            });
          });
          i = j;
        }
        assert.deepEqual(got[0], got[1]);
      },
    ),
    { numRuns: 200 },
  );
});

test("a run's lookup holds when a port's rxIrq forwards from another port mid-batch (the nested learn moves the run's source)", () => {
  const { ports, opened } = makeSwitch(3, 2048);
  const [p0, p1, p2] = opened;
  // B lives on p1.
  assert.equal(send(p1, [{ dst: BCAST, src: MAC.B, tag: 0 }]), 1);
  recv(p0);
  recv(p2);
  // The first kick of p0's batch (after NM_BDG_BATCH_MAX frames) reaches p1, whose user
  // answers at once from p2 with A as its source: A moves to p2, inside p0's forward.
  let nested = false;
  ports[1].onRx = () => {
    if (nested) return;
    nested = true;
    assert.equal(send(p2, [{ dst: MAC.B, src: MAC.A, tag: 1 }]), 1);
  };
  const n = NM_BDG_BATCH_MAX + 6;
  const frames = Array.from({ length: n }, (_, i) => ({ dst: MAC.B, src: MAC.A, tag: i & 0xff }));
  assert.equal(send(p0, frames), n);
  assert.ok(nested, "p1's user answered mid-batch");
  assert.equal(recv(p1).length, n + 1);
  // p0's frames after the nested one learnt A on p0 again, as frame-by-frame learning does.
  assert.equal(send(p1, [{ dst: MAC.A, src: MAC.B, tag: 9 }]), 1);
  assert.deepEqual(recv(p0), [9], "A is p0's again");
  assert.deepEqual(recv(p2), []);
});

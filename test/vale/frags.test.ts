import assert from "node:assert/strict";
import { test } from "node:test";
import {
  NS_MOREFRAG,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { ValeFrags } from "../../src/vale/frags.js";
import { ValePort } from "../../src/vale/port.js";
import { portCounters, type ValeAttachment, ValeSwitch } from "../../src/vale/switch.js";
import { type Mem, sharedMem } from "../../src/wire/mem.js";

const A = [2, 0, 0, 0, 0, 0xa];
const B = [2, 0, 0, 0, 0, 0xb];

/** A port that takes frames by reference and records what it saw (copying it out). */
function refPort(sw: ValeSwitch, name: string) {
  const got: Uint8Array[] = [];
  const seen: number[] = [];
  let irqs = 0;
  const scratch = sharedMem(1 << 17);
  const p: ValeAttachment = {
    name,
    get region(): never {
      throw new Error("a by-reference port has no ring region");
    },
    counters: portCounters(),
    rxKring: () => null,
    rxIrq: () => {
      irqs++;
    },
    deliverFrags: (f: ValeFrags) => {
      seen.push(f.n);
      f.copyOut(0, scratch, 0, f.total);
      got.push(scratch.u8.slice(0, f.total));
      return true;
    },
  };
  const index = sw.attach(p);
  return { index, got, seen, port: p, irqs: () => irqs };
}

function fragsOf(mem: Mem, parts: [number, number][]): ValeFrags {
  const f = new ValeFrags(mem);
  for (const [off, len] of parts) f.push(mem, off, len);
  return f;
}

test("forwardFrags: a by-reference destination gets the fragments as they are; a ring port one copy over as many slots as it needs", () => {
  const sw = new ValeSwitch("vale0");
  const src = refPort(sw, "src");
  const dst = refPort(sw, "dst");
  const ring = new ValePort(sw, "ring", 64);
  const np = ring.open();
  const mem = sharedMem(1 << 16);
  // A frame of 5000 bytes in three pieces, scattered: header, then two payload runs.
  const frame = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
  frame.set([...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ...A], 0);
  mem.u8.set(frame.subarray(0, 128), 8192);
  mem.u8.set(frame.subarray(128, 3000), 100);
  mem.u8.set(frame.subarray(3000), 20000);
  const f = fragsOf(mem, [
    [8192, 128],
    [100, 2872],
    [20000, 2000],
  ]);
  sw.forwardFrags(src.index, f);
  sw.flush();
  assert.deepEqual(dst.seen, [3], "three fragments, not a copy");
  assert.deepEqual(dst.got[0], frame);
  assert.equal(dst.irqs(), 1, "kicked once, on flush");
  // The ring port: ceil(5000 / bufSize) slots, NS_MOREFRAG on all but the last.
  np.rxsync();
  const m = np.mem;
  const r = np.rx[0].r;
  const out: number[] = [];
  let h = ringHead(m, r);
  const n = nmRingSpace(m, r);
  const bufSize = np.region.bufSize;
  assert.equal(n, Math.ceil(5000 / bufSize));
  for (let i = 0; i < n; i++) {
    const s = ringSlot(r, h);
    const off = np.region.bufOff(slotBufIdx(m, s));
    out.push(...m.u8.subarray(off, off + slotLen(m, s)));
    assert.equal((slotFlags(m, s) & NS_MOREFRAG) !== 0, i + 1 < n);
    h = nmRingNext(np.rx[0].numSlots, h);
  }
  assert.deepEqual(Uint8Array.from(out), frame);
  assert.equal(ring.counters.get("rxPackets"), 1);
  assert.equal(src.port.counters.get("txPackets"), 1);
  // Learnt: a unicast reply to A goes to src alone.
  const back = new Uint8Array(60);
  back.set([...A, ...B], 0);
  mem.u8.set(back, 0);
  sw.forwardFrags(dst.index, fragsOf(mem, [[0, 60]]));
  assert.equal(src.got.length, 1);
  assert.equal(ring.counters.get("rxPackets"), 1, "unicast to a learnt port does not flood");
});

test("forwardFrags refuses broken lists (no fragment, a runt header, a fragment outside its memory) as tx errors", () => {
  const sw = new ValeSwitch("vale0");
  const src = refPort(sw, "src");
  const dst = refPort(sw, "dst");
  const mem = sharedMem(4096);
  mem.u8.fill(0xff, 0, 12);
  sw.forwardFrags(src.index, fragsOf(mem, []));
  sw.forwardFrags(src.index, fragsOf(mem, [[0, 10]]));
  sw.forwardFrags(src.index, fragsOf(mem, [[4000, 200]]));
  const lying = fragsOf(mem, [[0, 60]]);
  lying.total = 61;
  sw.forwardFrags(src.index, lying);
  assert.equal(src.port.counters.get("txErrors"), 4);
  assert.equal(dst.got.length, 0);
});

test("a ring port's frames reach a by-reference destination as fragments of its buffers", () => {
  const sw = new ValeSwitch("vale0");
  const ring = new ValePort(sw, "ring", 64);
  const np = ring.open();
  const dst = refPort(sw, "dst");
  const m = np.mem;
  const r = np.tx[0].r;
  let h = ringHead(m, r);
  const lens = [1000, 700];
  for (const [i, len] of lens.entries()) {
    const s = ringSlot(r, h);
    const off = np.region.bufOff(slotBufIdx(m, s));
    m.u8.fill(i + 1, off, off + len);
    if (i === 0) m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...B], off);
    slotSetLen(m, s, len);
    slotSetFlags(m, s, i === 0 ? NS_MOREFRAG : 0);
    h = nmRingNext(np.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  np.txsync();
  assert.deepEqual(dst.seen, [2]);
  assert.equal(dst.got[0].length, 1700);
  assert.equal(dst.got[0][1699], 2);
  assert.equal(dst.port.counters.get("rxPackets"), 1);
});

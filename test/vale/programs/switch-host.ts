/**
 * The switch thread of hostile-user.test.ts: a VALE switch with one port used from another
 * thread (`vale0:evil`, whose description it posts) and two local ports, a -> b, passing
 * sequenced broadcast frames for as long as the test lets it. It bumps a heartbeat word
 * after every round, so the test sees a thread that stops returning, and watches b's memory:
 * every buffer the switch has no business writing holds a canary, every frame b receives
 * must fit a buffer, a's frames must come (the hostile port may replay copies it got).
 */
import { parentPort, workerData } from "node:worker_threads";
import { RateLog } from "../../../src/base/ratelog.js";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../../../src/netmap/layout.js";
import type { NetmapPort } from "../../../src/netmap/port.js";
import { nmRingSpace } from "../../../src/netmap/ring.js";
import { ValePort } from "../../../src/vale/port.js";
import { attachRemotePort } from "../../../src/vale/remote.js";
import { ValeSwitch } from "../../../src/vale/switch.js";

const { slots, ctl } = workerData as { slots: number; ctl: SharedArrayBuffer };
const c = new Int32Array(ctl); // [0] stop, [1] heartbeat
const CANARY = 0xa5;
const SPARE = 64;
const logged: string[] = [];
const log = new RateLog({ sink: (line) => logged.push(line) });
const sw = new ValeSwitch("vale0");
const evil = attachRemotePort(sw, "vale0:evil", slots, { log });
const a = new ValePort(sw, "vale0:a", slots);
const b = new ValePort(sw, "vale0:b", slots, SPARE);
const pa = a.open();
const pb = b.open();

// b's RX buffers are the only ones of b's region the switch may write.
const bm = pb.mem;
const rxBufs = new Set<number>();
for (let i = 0; i < slots; i++) rxBufs.add(slotBufIdx(bm, ringSlot(pb.rx[0].r, i)));
const guarded: number[] = [];
for (let idx = 2; idx < b.region.nBufs; idx++) if (!rxBufs.has(idx)) guarded.push(idx);
for (const idx of guarded) bm.u8.fill(CANARY, b.region.bufOff(idx), b.region.bufOff(idx) + b.region.bufSize);
const bufEnd = b.region.bufOff(b.region.nBufs);

function canaryBroken(): number {
  let broken = 0;
  for (const idx of guarded) {
    const off = b.region.bufOff(idx);
    for (let j = 0; j < b.region.bufSize; j++) if (bm.u8[off + j] !== CANARY) broken++;
  }
  // Nothing may lie past the pool either (a region one byte longer would show it).
  return broken + (bm.byteLength > bufEnd ? 1 : 0);
}

let seq = 0;
function sendA(p: NetmapPort, count: number): number {
  const m = p.mem;
  const r = p.tx[0].r;
  const n = Math.min(count, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < n; i++) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x88, 0xb5], off);
    m.dv.setUint32(off + 14, seq++);
    slotSetLen(m, s, 60);
    h = h + 1 === slots ? 0 : h + 1;
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
  return n;
}

const st = { aSent: 0, bGotA: 0, bGotOther: 0, badLen: 0, replayed: 0, rounds: 0 };
let last = -1;
function drainB(p: NetmapPort): void {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    const len = slotLen(m, s);
    const off = p.region.bufOff(slotBufIdx(m, s));
    if (len > p.region.bufSize) st.badLen++;
    if (
      m.dv.getUint16(off + 6) === 0x0200 &&
      m.dv.getUint32(off + 8) === 0x0a &&
      m.dv.getUint16(off + 12) === 0x88b5
    ) {
      // The hostile port gets a's broadcasts too and may send them again: an old sequence
      // number is a replay, not a's frame out of order.
      const v = m.dv.getUint32(off + 14);
      if (v <= last) st.replayed++;
      else {
        last = v;
        st.bGotA++;
      }
    } else st.bGotOther++;
    h = h + 1 === slots ? 0 : h + 1;
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.rxsync();
}

parentPort?.postMessage({ desc: evil.desc });
while (Atomics.load(c, 0) === 0) {
  st.aSent += sendA(pa, 16);
  drainB(pb);
  st.rounds++;
  Atomics.add(c, 1, 1);
  // The evil port's own loop (RemoteIf's #serve) runs in this thread between rounds.
  await new Promise((r) => setImmediate(r));
}
drainB(pb);
const port = evil.bwrap.port;
const counters = {
  evilTxPackets: evil.bwrap.counters.get("txPackets"),
  evilTxErrors: evil.bwrap.counters.get("txErrors"),
  evilResets: port === null ? -1 : port.rx[0].resets + port.tx[0].resets,
  evilPeerErrors: port === null ? -1 : port.rx[0].peerErrors + port.tx[0].peerErrors,
  bDrops: b.counters.get("rxDrops"),
  canaryBroken: canaryBroken(),
  logged: logged.length,
};
await evil.stop();
parentPort?.postMessage({ ...st, ...counters });

/**
 * One end of a netmap pipe in its own thread for `pvnet bench netmap`: the master stamps a
 * sequence number and length into each free TX slot's buffer and syncs every `batch` slots;
 * the slave reads each packet's sequence (checking order) and releases slots in batches.
 * Both busy-poll, as pkt-gen-b does.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ringHead, ringSlot, slotBufIdx, slotSetLen } from "../src/netmap/layout.js";
import { NetmapRegion, type RegionSpec } from "../src/netmap/mem.js";
import { type PipeDesc, PipeEnd } from "../src/netmap/pipe.js";
import { NetmapPort } from "../src/netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../src/netmap/ring.js";

interface Args {
  sab: SharedArrayBuffer;
  spec: RegionSpec;
  desc: PipeDesc;
  master: boolean;
  frameBytes: number;
  batch: number;
  /** [stop flag, packets received, sequence errors] */
  ctl: SharedArrayBuffer;
}

const a = workerData as Args;
const region = new NetmapRegion(1, a.spec, a.sab);
const end = new PipeEnd(region, a.desc, a.master);
const port = a.master
  ? new NetmapPort(region, end, [end.txRing], [])
  : new NetmapPort(region, end, [], [end.rxRing]);
const ctl = new Float64Array(a.ctl);
const stop = new Int32Array(a.ctl, 24, 1);
const m = region.mem;
const u32 = m.u32;
const n = a.desc.slots;
const bufBase = region.bufBase;
const bufShift = Math.log2(region.bufSize);
parentPort?.postMessage("ready");

if (a.master) {
  const r = end.txRing;
  let seq = 0;
  while (Atomics.load(stop, 0) === 0) {
    const room = nmRingSpace(m, r);
    const k = Math.min(room, a.batch);
    let h = ringHead(m, r);
    for (let i = 0; i < k; i++) {
      const s = ringSlot(r, h);
      u32[(bufBase + (slotBufIdx(m, s) << bufShift)) >>> 2] = seq++;
      slotSetLen(m, s, a.frameBytes);
      h = h + 1 === n ? 0 : h + 1;
    }
    nmRingAdvance(m, r, h);
    port.txsync();
  }
} else {
  const r = end.rxRing;
  let expect = 0;
  let got = 0;
  let errors = 0;
  while (Atomics.load(stop, 0) === 0) {
    port.rxsync();
    const avail = nmRingSpace(m, r);
    const k = Math.min(avail, a.batch);
    let h = ringHead(m, r);
    for (let i = 0; i < k; i++) {
      const s = ringSlot(r, h);
      if (u32[(bufBase + (slotBufIdx(m, s) << bufShift)) >>> 2] !== expect) errors++;
      expect++;
      h = h + 1 === n ? 0 : h + 1;
    }
    got += k;
    nmRingAdvance(m, r, h);
    if ((got & 0xfff) < k) {
      ctl[1] = got;
      ctl[2] = errors;
    }
  }
  ctl[1] = got;
  ctl[2] = errors;
}
parentPort?.postMessage("done");

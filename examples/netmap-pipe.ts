/**
 * A netmap pipe between two threads: the main thread lays out a region holding one pipe,
 * and two workers each bind one end. The sender writes a sequence number into each free TX
 * slot's buffer and syncs; the receiver polls (sleeping on the ring, no busy wait), checks
 * the numbers and releases the slots. No byte is copied: slots change hands by swapping
 * buffer indices. This one file is the main program and both workers.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import {
  createPipe,
  NetmapPort,
  NetmapRegion,
  nmRingAdvance,
  nmRingSpace,
  type PipeDesc,
  PipeEnd,
  pipeRegionSpec,
  type RegionSpec,
  ringHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "pvnet/netmap";

const SLOTS = 256;
const COUNT = 20_000;

interface EndArgs {
  sab: SharedArrayBuffer;
  spec: RegionSpec;
  pipe: PipeDesc;
  sender: boolean;
}

async function sender(port: NetmapPort, end: PipeEnd): Promise<number> {
  const m = port.mem;
  const r = end.txRing;
  for (let seq = 0; seq < COUNT; ) {
    if (nmRingSpace(m, r) === 0) await port.poll({ tx: true });
    let h = ringHead(m, r);
    for (let k = Math.min(nmRingSpace(m, r), COUNT - seq); k > 0; k--, seq++) {
      const s = ringSlot(r, h);
      m.dv.setUint32(port.region.bufOff(slotBufIdx(m, s)), seq);
      slotSetLen(m, s, 60);
      h = h + 1 === SLOTS ? 0 : h + 1;
    }
    nmRingAdvance(m, r, h);
    port.txsync();
  }
  return COUNT;
}

async function receiver(port: NetmapPort, end: PipeEnd): Promise<number> {
  const m = port.mem;
  const r = end.rxRing;
  let expect = 0;
  while (expect < COUNT) {
    await port.poll({ rx: true });
    let h = ringHead(m, r);
    for (let k = nmRingSpace(m, r); k > 0; k--) {
      const s = ringSlot(r, h);
      const seq = m.dv.getUint32(port.region.bufOff(slotBufIdx(m, s)));
      if (seq !== expect || slotLen(m, s) !== 60) throw new Error(`packet ${expect} arrived as ${seq}`);
      expect++;
      h = h + 1 === SLOTS ? 0 : h + 1;
    }
    nmRingAdvance(m, r, h);
  }
  port.rxsync(); // hands the last slots back to the sender
  return expect;
}

if (isMainThread) {
  const spec = pipeRegionSpec(SLOTS);
  const region = new NetmapRegion(1, spec);
  const pipe = createPipe(region, "pipe0", SLOTS);
  const run = (sender: boolean): Promise<number> =>
    new Promise((resolve, reject) => {
      const args: EndArgs = { sab: region.mem.buffer as SharedArrayBuffer, spec, pipe, sender };
      const w = new Worker(new URL(import.meta.url), { workerData: args });
      w.once("message", resolve);
      w.once("error", reject);
    });
  const t0 = performance.now();
  const [sent, received] = await Promise.all([run(true), run(false)]);
  const ms = performance.now() - t0;
  console.log(
    `pipe: ${sent} packets sent, ${received} received in order by another thread (${ms.toFixed(0)} ms)`,
  );
} else {
  const a = workerData as EndArgs;
  const region = new NetmapRegion(1, a.spec, a.sab);
  const end = new PipeEnd(region, a.pipe, a.sender); // either end can send; here the master does
  const port = a.sender
    ? new NetmapPort(region, end, [end.txRing], [])
    : new NetmapPort(region, end, [], [end.rxRing]);
  const n = await (a.sender ? sender(port, end) : receiver(port, end));
  port.close();
  parentPort?.postMessage(n);
}

/**
 * A VALE port's owner in its own thread (for remote.test.ts): "tx" sends `count` frames
 * from 02:..:0a to broadcast with a big-endian sequence number at offset 42; "rx" receives
 * until it has `count` frames or the line goes quiet, checking the order. Both wait in
 * poll() (event-driven) and post their counts back.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotSetLen,
} from "../../../src/netmap/layout.js";
import { nmRingSpace } from "../../../src/netmap/ring.js";
import { openRemotePort, type RemotePortDesc } from "../../../src/vale/remote.js";

const { desc, role, count } = workerData as { desc: RemotePortDesc; role: "tx" | "rx"; count: number };
const port = openRemotePort(desc);
const m = port.mem;

async function tx(): Promise<number> {
  const r = port.tx[0].r;
  const n = port.tx[0].numSlots;
  let sent = 0;
  while (sent < count) {
    let room = nmRingSpace(m, r);
    if (room === 0) {
      await port.poll({ tx: true }, 1000);
      continue;
    }
    room = Math.min(room, 64, count - sent);
    let h = ringHead(m, r);
    for (let i = 0; i < room; i++) {
      const s = ringSlot(r, h);
      const off = port.region.bufOff(slotBufIdx(m, s));
      m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x00], off);
      m.dv.setUint32(off + 42, sent + i);
      slotSetLen(m, s, 60);
      h = h + 1 === n ? 0 : h + 1;
    }
    ringSetHead(m, r, h);
    ringSetCur(m, r, h);
    port.txsync();
    sent += room;
  }
  port.txsync();
  return sent;
}

async function rx(): Promise<{ got: number; outOfOrder: number }> {
  const r = port.rx[0].r;
  const n = port.rx[0].numSlots;
  let got = 0;
  let outOfOrder = 0;
  let last = -1;
  while (got < count) {
    const ready = await port.poll({ rx: true }, 500);
    if (!ready.rx) break; // quiet: whatever did not come was dropped on the way
    let h = ringHead(m, r);
    for (let k = nmRingSpace(m, r); k > 0; k--) {
      const seq = m.dv.getUint32(port.region.bufOff(slotBufIdx(m, ringSlot(r, h))) + 42);
      if (seq <= last) outOfOrder++;
      last = seq;
      got++;
      h = h + 1 === n ? 0 : h + 1;
    }
    ringSetHead(m, r, h);
    ringSetCur(m, r, h);
  }
  return { got, outOfOrder };
}

const result = role === "tx" ? { sent: await tx() } : await rx();
parentPort?.postMessage(result);

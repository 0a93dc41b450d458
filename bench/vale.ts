/**
 * VALE forwarding rate, pkt-gen style, in one thread (all syncs of a switch run in its
 * thread for now): port 0 sends `batch` frames per txsync, to a learnt unicast
 * destination or to broadcast; every receiver syncs, reads each frame and releases it.
 * The figure is frames delivered per second (a broadcast to 3 ports counts 3).
 */

import { ownThreadCpuNs } from "../src/hv/thread-probe.js";
import { ringHead, ringSlot, slotBufIdx, slotSetLen } from "../src/netmap/layout.js";
import type { NetmapPort } from "../src/netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../src/netmap/ring.js";
import { ValePort } from "../src/vale/port.js";
import { ValeSwitch } from "../src/vale/switch.js";

const SLOTS = 1024;

export function measureVale(
  frameBytes: number,
  batch: number,
  receivers: number,
  warmupMs: number,
  measureMs: number,
): number {
  return measureValeThread(frameBytes, batch, receivers, warmupMs, measureMs).mpps;
}

export interface ValeRate {
  mpps: number;
  /** CPU time of the one thread per frame delivered, ns (NaN where the kernel does not say). */
  cpuNsPerFrame: number;
}

/** measureVale, with the CPU time its thread spent per frame delivered. */
export function measureValeThread(
  frameBytes: number,
  batch: number,
  receivers: number,
  warmupMs: number,
  measureMs: number,
): ValeRate {
  const nPorts = receivers + 1;
  const sw = new ValeSwitch("vale0");
  const ports = Array.from({ length: nPorts }, (_, i) => new ValePort(sw, `p${i}`, SLOTS).open());
  const broadcast = receivers > 1;
  // Receiver 1 announces itself so unicast to it is learnt.
  fill(ports[1], 1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 1, 60);
  ports[1].txsync();
  drain(ports[0]);
  const dst = broadcast ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [2, 0, 0, 0, 0, 1];
  let delivered = 0;
  const run = (ms: number): void => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      for (let rep = 0; rep < 64; rep++) {
        fill(ports[0], batch, dst, 0, frameBytes);
        ports[0].txsync();
        for (let r = 1; r < nPorts; r++) delivered += drain(ports[r]);
      }
    }
  };
  run(warmupMs);
  delivered = 0;
  const c0 = ownThreadCpuNs();
  const t0 = performance.now();
  run(measureMs);
  const ms = performance.now() - t0;
  return { mpps: delivered / ms / 1000, cpuNsPerFrame: (ownThreadCpuNs() - c0) / delivered };
}

/** Puts up to `n` frames dst <- 02:..:src on p's TX ring (the sync is the caller's). */
function fill(p: NetmapPort, n: number, dst: number[], src: number, len: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  const k = Math.min(n, nmRingSpace(m, r));
  const u8 = m.u8;
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    for (let j = 0; j < 6; j++) u8[off + j] = dst[j];
    u8[off + 6] = 2;
    u8[off + 7] = u8[off + 8] = u8[off + 9] = u8[off + 10] = 0;
    u8[off + 11] = src;
    slotSetLen(m, s, len);
    h = h + 1 === SLOTS ? 0 : h + 1;
  }
  nmRingAdvance(m, r, h);
}

/** Reads and releases everything on p's RX ring; returns how many frames. */
function drain(p: NetmapPort): number {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const n = nmRingSpace(m, r);
  let h = ringHead(m, r);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += m.u8[p.region.bufOff(slotBufIdx(m, ringSlot(r, h))) + 12];
    h = h + 1 === SLOTS ? 0 : h + 1;
  }
  nmRingAdvance(m, r, h);
  return sum >= 0 ? n : 0;
}

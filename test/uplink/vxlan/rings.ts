/** Frames in and out of a VALE port's rings, and waiting, for the VXLAN uplink's tests. */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "../../../src/netmap/layout.js";
import type { NetmapPort } from "../../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../../src/netmap/ring.js";

/** Puts frames (dst, src, EtherType 0x0800, a tag byte) on p's TX ring and syncs. */
export function put(
  p: NetmapPort,
  frames: { dst: number[]; src: number[]; tag: number; len?: number }[],
): void {
  const m = p.mem;
  const r = p.tx[0].r;
  let h = ringHead(m, r);
  for (const f of frames) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    m.u8.fill(0, off, off + (f.len ?? 60));
    m.u8.set([...f.dst, ...f.src, 0x08, 0x00, f.tag], off);
    slotSetLen(m, s, f.len ?? 60);
    slotSetFlags(m, s, 0);
    h = nmRingNext(p.tx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  p.txsync();
}

/** Takes every frame on p's RX ring: its tag byte and length. */
export function take(p: NetmapPort): { tag: number; len: number }[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const got: { tag: number; len: number }[] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    got.push({ tag: m.u8[p.region.bufOff(slotBufIdx(m, s)) + 14], len: slotLen(m, s) });
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return got;
}

/** A UDP port free on 127.0.0.1 just now. */
export async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits (polling) until `ok()`, failing after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Transparent mode (§1.11 of the reference): on an RX ring with NR_FORWARD in its flags, a
 * slot the user releases with NS_FORWARD goes on to the other side of the device instead
 * of being dropped. NIC RX slots go up to the host stack (netmap copies them into mbufs
 * and calls netmap_send_up); host RX slots go down to the NIC TX rings bound by the same
 * port (netmap_sw_to_nic, allowed only when the port holds the NIC TX rings,
 * NAF_CAN_FORWARD_DOWN). Both run in the common rxsync before the slots are given back.
 */
import { between, type KRing } from "./kring.js";
import {
  NS_BUF_CHANGED,
  NS_FORWARD,
  NS_MOREFRAG,
  ringHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "./layout.js";
import { nmRingAdvance } from "./ring.js";

export interface SwToNicResult {
  /** Slots placed on NIC TX rings. */
  moved: number;
  /** NS_FORWARD slots that found no room (or no NIC TX ring) and were released unsent. */
  dropped: number;
  /** Bit i set: NIC TX kring i got slots and needs a txsync (at most 32 rings). */
  touched: number;
}

/**
 * netmap_sw_to_nic: moves the NS_FORWARD slots of host RX kring `k` in [hwcur, rhead) onto
 * the user side of the NIC TX krings `nicTx` (same region, so the buffers are swapped, not
 * copied, and both slots get NS_BUF_CHANGED as netmap sets it), advancing each TX ring's
 * head and cur as the user would. A TX ring whose shared head is out of its legal range is
 * skipped; its own txsync prologue will reset it.
 */
export function swToNic(k: KRing, nicTx: readonly KRing[]): SwToNicResult {
  const m = k.m;
  const out: SwToNicResult = { moved: 0, dropped: 0, touched: 0 };
  let t = 0;
  for (let i = k.hwcur; i !== k.rhead; i = i + 1 === k.numSlots ? 0 : i + 1) {
    const src = ringSlot(k.r, i);
    const flags = slotFlags(m, src);
    if ((flags & NS_FORWARD) === 0) continue;
    slotSetFlags(m, src, flags & ~NS_FORWARD);
    let placed = false;
    for (let tries = 0; tries < nicTx.length && !placed; tries++, t = (t + 1) % nicTx.length) {
      const d = nicTx[t];
      const head = ringHead(m, d.r);
      if (head >= d.numSlots || !between(d.rhead, head, d.rtail) || head === d.rtail) continue;
      const dst = ringSlot(d.r, head);
      const buf = slotBufIdx(m, dst);
      slotSetBufIdx(m, dst, slotBufIdx(m, src));
      slotSetLen(m, dst, slotLen(m, src));
      slotSetFlags(m, dst, NS_BUF_CHANGED | (flags & NS_MOREFRAG));
      slotSetBufIdx(m, src, buf);
      slotSetFlags(m, src, (flags & ~NS_FORWARD) | NS_BUF_CHANGED);
      const next = head + 1 === d.numSlots ? 0 : head + 1;
      nmRingAdvance(m, d.r, next);
      out.touched |= 1 << t;
      out.moved++;
      placed = true;
      // Stay on this ring until it is full, as netmap does: a flow keeps its order.
      break;
    }
    if (!placed) out.dropped++;
  }
  return out;
}

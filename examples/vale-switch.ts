/**
 * A VALE switch in code: three ports on switch `vale0`, opened by name in a netmap context
 * as netmap's `nmport_open("vale0:a")` would. A frame from a to b's MAC floods (b is not
 * learned yet) and reaches b and c; b's answer goes to a alone, because the switch learned
 * a's MAC from the first frame.
 */
import {
  NetmapContext,
  type NetmapPort,
  nmRingAdvance,
  nmRingNext,
  nmRingSpace,
  ringHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "pvnet/netmap";
import { installVale } from "pvnet/vale";
import { ETH_HLEN, ETH_P_IP, formatMac, readMac, writeMac } from "pvnet/wire";

const MAC = { a: 0x02_00_00_00_00_0a, b: 0x02_00_00_00_00_0b, c: 0x02_00_00_00_00_0c };

/** Queues one minimal Ethernet frame on the port's TX ring and syncs. */
function send(p: NetmapPort, dst: number, src: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  if (nmRingSpace(m, r) === 0) throw new Error("TX ring full");
  const h = ringHead(m, r);
  const s = ringSlot(r, h);
  const off = p.region.bufOff(slotBufIdx(m, s));
  writeMac(m.dv, off, dst);
  writeMac(m.dv, off + 6, src);
  m.dv.setUint16(off + 12, ETH_P_IP);
  slotSetLen(m, s, 60);
  nmRingAdvance(m, r, nmRingNext(p.tx[0].numSlots, h));
  p.txsync();
}

/** Takes every frame waiting on the port's RX ring; returns "src>dst" for each. */
function receive(p: NetmapPort): string[] {
  p.rxsync();
  const m = p.mem;
  const r = p.rx[0].r;
  const got: string[] = [];
  let h = ringHead(m, r);
  for (let k = nmRingSpace(m, r); k > 0; k--) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    if (slotLen(m, s) >= ETH_HLEN)
      got.push(`${formatMac(readMac(m.dv, off + 6))}>${formatMac(readMac(m.dv, off))}`);
    h = nmRingNext(p.rx[0].numSlots, h);
  }
  nmRingAdvance(m, r, h);
  return got;
}

const ctx = new NetmapContext();
installVale(ctx); // `valeX:Y` names now open ports of switch valeX (created on first use)
const a = ctx.open("vale0:a");
const b = ctx.open("vale0:b");
const c = ctx.open("vale0:c");

send(a, MAC.b, MAC.a);
console.log(`a -> b, b unknown:  b got ${receive(b).length}, c got ${receive(c).length} (flooded)`);
send(b, MAC.a, MAC.b);
console.log(`b -> a, a learned:  a got ${receive(a).join(" ")}, c got ${receive(c).length}`);
for (const p of [a, b, c]) p.close();

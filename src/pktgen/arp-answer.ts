/**
 * pkt-gen's ping answering ARP for its own source address, so that a host stack (a pvnet
 * guest's) can send its echo back: a stack resolves the sender before replying, and netmap's
 * pkt-gen, meant to ping another pkt-gen, never answers. Only requests for exactly the -s
 * address are answered, from the -S address; everything else is left to the caller.
 */
import { NETMAP_BUF_RESERVED, ringHead, ringSlot, slotBufIdx, slotSetLen } from "../netmap/layout.js";
import type { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../netmap/ring.js";
import type { Mem } from "../wire/mem.js";
import {
  ARP_LEN,
  ARPOP_REPLY,
  ARPOP_REQUEST,
  arpIsEthIpv4,
  arpOper,
  arpSha,
  arpSpa,
  arpTpa,
  setArpEthIpv4,
  setArpOper,
  setArpSha,
  setArpSpa,
  setArpTha,
  setArpTpa,
} from "../wire/net/arp.js";
import {
  ETH_HLEN,
  ETH_P_ARP,
  ethType,
  isMulticast,
  setEthDstMac,
  setEthSrcMac,
  setEthType,
} from "../wire/net/ethernet.js";

/** An ARP reply padded to Ethernet's minimum (without FCS), as a NIC sends it. */
const REPLY_LEN = 60;

/**
 * Whether the frame at `off` (`len` bytes, the peer's) asks who has `ip`; if so, and the TX
 * ring has room, the reply from `mac` is queued (not yet synced: the caller's txsync sends
 * it). Returns whether a reply was queued.
 */
export function answerArp(port: NetmapPort, off: number, len: number, ip: number, mac: number): boolean {
  const m = port.mem;
  if (len < ETH_HLEN + ARP_LEN || ethType(m, off) !== ETH_P_ARP) return false;
  const a = off + ETH_HLEN;
  if (!arpIsEthIpv4(m, a) || arpOper(m, a) !== ARPOP_REQUEST || arpTpa(m, a) !== ip) return false;
  // Read once: the frame is in memory the sender's side shares.
  const sha = arpSha(m, a);
  const spa = arpSpa(m, a);
  if (isMulticast(sha)) return false;
  const k = port.tx[0];
  if (nmRingSpace(m, k.r) === 0) return false;
  const h = ringHead(m, k.r);
  const s = ringSlot(k.r, h);
  const idx = slotBufIdx(m, s);
  const r = port.region;
  if (idx < NETMAP_BUF_RESERVED || idx >= r.nBufs || r.bufSize < REPLY_LEN) return false;
  const o = r.bufOff(idx);
  writeReply(m, o, mac, ip, sha, spa);
  slotSetLen(m, s, REPLY_LEN);
  nmRingAdvance(m, k.r, h + 1 === k.numSlots ? 0 : h + 1);
  return true;
}

function writeReply(m: Mem, o: number, mac: number, ip: number, toMac: number, toIp: number): void {
  m.u8.fill(0, o, o + REPLY_LEN);
  setEthDstMac(m, o, toMac);
  setEthSrcMac(m, o, mac);
  setEthType(m, o, ETH_P_ARP);
  const a = o + ETH_HLEN;
  setArpEthIpv4(m, a);
  setArpOper(m, a, ARPOP_REPLY);
  setArpSha(m, a, mac);
  setArpSpa(m, a, ip);
  setArpTha(m, a, toMac);
  setArpTpa(m, a, toIp);
}

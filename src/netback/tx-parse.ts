/**
 * Reading one guest packet out of the private copy of its TX requests (TX is named from
 * the frontend's point of view: these are frames the guest transmits).
 *
 * netback copies the requests out of the shared ring once (BackRing.copyRequests) and only
 * then parses them here, so nothing below can be changed by the guest while it is checked.
 * The rules are Linux netback's (xen-protocol.md §7.1-7.2): a packet is a first slot, then
 * its extra-info slots, then its fragments while NETTXF_more_data is set. What Linux calls
 * fatal disables the vif; what it drops is answered with errors and the vif lives on. The
 * verdict is written into a reused `TxPacket`, so parsing allocates nothing.
 */
import { Verdict } from "../base/reason.js";
import type { Mem } from "../wire/mem.js";
import {
  extraFlags,
  extraGsoSize,
  extraGsoType,
  extraType,
  NETTXF_extra_info,
  NETTXF_more_data,
  txReqFlags,
  txReqOffset,
  txReqSize,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_MAX,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_NR_SLOTS_MIN,
} from "../wire/xen/netif.js";

const PAGE = 4096;
const ETH_HLEN = 14;
export const TX_SLOT_BYTES = 12;

/** Linux's fatal_skb_slots default: this many slots after the first is malicious. */
export const FATAL_SKB_SLOTS_DEFAULT = 20;

export enum TxVerdict {
  /** A frame to forward: `nFrags` fragments after the first slot, `firstSize` in the first. */
  Ok = 0,
  /** Consumed and answered (data slots ERROR, extras NULL); the vif lives on. */
  Drop = 1,
  /** A protocol violation Linux calls fatal: the vif is disabled. */
  Fatal = 2,
  /** A multicast add/del request carried in extras: answered on its own, no frame. */
  Control = 3,
}

/** Why a packet was dropped or fatal; `TX_REASON_TEXT` gives the log line. */
export enum TxReason {
  None = 0,
  MissingExtra = 1,
  BadExtraType = 2,
  AskedTooManySlots = 3,
  MaliciousSlots = 4,
  FragCrossesPage = 5,
  FirstCrossesPage = 6,
  TooManySlots = 7,
  FragLargerThanRest = 8,
  Runt = 9,
  GsoZeroSize = 10,
  GsoBadType = 11,
}

/** Log text per reason, `a` and `b` being the packet's `reasonA`/`reasonB`. */
export const TX_REASON_TEXT: readonly string[] = [
  "",
  "Missing extra info",
  "Invalid extra type: a",
  "Asked for a slots but exceeds this limit (b)",
  "Malicious frontend using a slots, threshold b",
  "Cross page boundary, txp->offset: a, size: b",
  "Cross page boundary, txreq.offset: a, size: b",
  "Too many slots (a) exceeding limit (b), dropping packet",
  "Invalid tx request, slot size a > remaining size b",
  "Bad packet size: a",
  "GSO size must not be zero",
  "Bad GSO type a",
];

/** One packet's shape and verdict; reused from packet to packet. */
export class TxPacket extends Verdict<TxVerdict, TxReason> {
  /** Batch index of the first slot. */
  start = 0;
  /** Slots consumed in all: 1 + extras + fragments (what the responses must cover). */
  consumed = 0;
  nExtras = 0;
  nFrags = 0;
  /** The first slot's size after subtracting every fragment (bytes in the first slot). */
  firstSize = 0;
  /** The whole frame's length as the first slot declared it. */
  totalSize = 0;
  /** NETTXF_* of the first slot. */
  flags = 0;
  /** Batch index of the last GSO / MCAST_ADD / MCAST_DEL extra, or -1. */
  gsoAt = -1;
  mcastAddAt = -1;
  mcastDelAt = -1;

  constructor() {
    super(TX_REASON_TEXT);
  }

  /** Starts the next packet at batch index `start`. */
  reset(start: number): void {
    this.clear();
    this.start = start;
    this.consumed = 1;
    this.nExtras = 0;
    this.nFrags = 0;
    this.gsoAt = this.mcastAddAt = this.mcastDelAt = -1;
  }
}

export interface TxParseLimits {
  /** Slots after the first from which a packet is fatal (Linux fatal_skb_slots, >= 18). */
  readonly fatalSlots: number;
}

/**
 * Parses the packet whose first slot is batch index `start` of `batch` (slot i at byte
 * `base + i * 12`), with `avail` slots copied from `start` on. Reads at most `avail` slots:
 * every loop is bounded by it and by the fatal slot limit. Returns `out.verdict`.
 */
export function parseTxPacket(
  batch: Mem,
  base: number,
  start: number,
  avail: number,
  limits: TxParseLimits,
  out: TxPacket,
): TxVerdict {
  out.reset(start);
  const first = base + start * TX_SLOT_BYTES;
  const flags = txReqFlags(batch, first);
  let rest = txReqSize(batch, first);
  out.flags = flags;
  out.totalSize = rest;
  let i = 1;
  if (flags & NETTXF_extra_info) {
    let more = true;
    while (more) {
      if (i >= avail) return out.fail(TxVerdict.Fatal, TxReason.MissingExtra, 0, 0);
      const at = base + (start + i) * TX_SLOT_BYTES;
      const type = extraType(batch, at);
      i++;
      out.nExtras++;
      if (type === 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX)
        return out.fail(TxVerdict.Fatal, TxReason.BadExtraType, type, 0);
      if (type === XEN_NETIF_EXTRA_TYPE_GSO) out.gsoAt = start + i - 1;
      else if (type === XEN_NETIF_EXTRA_TYPE_MCAST_ADD) out.mcastAddAt = start + i - 1;
      else if (type === XEN_NETIF_EXTRA_TYPE_MCAST_DEL) out.mcastDelAt = start + i - 1;
      more = (extraFlags(batch, at) & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
    }
  }
  out.consumed = i;
  // A multicast request is answered before its fragments are looked at, as Linux does.
  if (out.mcastAddAt >= 0 || out.mcastDelAt >= 0) {
    out.verdict = TxVerdict.Control;
    return TxVerdict.Control;
  }
  let drop = TxReason.None;
  let dropA = 0;
  let dropB = 0;
  let more = (flags & NETTXF_more_data) !== 0;
  let frags = 0;
  while (more) {
    if (i + frags >= avail)
      return out.fail(TxVerdict.Fatal, TxReason.AskedTooManySlots, frags + 1, avail - i);
    if (frags >= limits.fatalSlots)
      return out.fail(TxVerdict.Fatal, TxReason.MaliciousSlots, frags, limits.fatalSlots);
    if (drop === TxReason.None && frags >= XEN_NETIF_NR_SLOTS_MIN) {
      drop = TxReason.TooManySlots;
      dropA = frags;
      dropB = XEN_NETIF_NR_SLOTS_MIN;
    }
    const at = base + (start + i + frags) * TX_SLOT_BYTES;
    const size = txReqSize(batch, at);
    const offset = txReqOffset(batch, at);
    if (drop === TxReason.None && size > rest) {
      drop = TxReason.FragLargerThanRest;
      dropA = size;
      dropB = rest;
    }
    rest -= size; // never below 0 unless the packet is already being dropped
    frags++;
    if (offset + size > PAGE) return out.fail(TxVerdict.Fatal, TxReason.FragCrossesPage, offset, size);
    more = (txReqFlags(batch, at) & NETTXF_more_data) !== 0;
  }
  out.nFrags = frags;
  out.consumed = i + frags;
  out.firstSize = rest;
  if (drop !== TxReason.None) return out.fail(TxVerdict.Drop, drop, dropA, dropB);
  if (rest < ETH_HLEN) return out.fail(TxVerdict.Drop, TxReason.Runt, rest, 0);
  const off0 = txReqOffset(batch, first);
  if (off0 + rest > PAGE) return out.fail(TxVerdict.Fatal, TxReason.FirstCrossesPage, off0, rest);
  if (out.gsoAt >= 0) {
    const g = base + out.gsoAt * TX_SLOT_BYTES;
    if (extraGsoSize(batch, g) === 0) return out.fail(TxVerdict.Fatal, TxReason.GsoZeroSize, 0, 0);
    const t = extraGsoType(batch, g);
    if (t !== XEN_NETIF_GSO_TYPE_TCPV4 && t !== XEN_NETIF_GSO_TYPE_TCPV6)
      return out.fail(TxVerdict.Fatal, TxReason.GsoBadType, t, 0);
  }
  return TxVerdict.Ok;
}

/**
 * The common packet, told from its first slot alone (batch byte offset `at`): one slot, no
 * extras, no fragments, within its page and no runt. Returns its size, or -1 for anything
 * else (parseTxPacket then gives the verdict). Where it returns a size, parseTxPacket says
 * Ok with `consumed` 1 and firstSize = totalSize = that size: netback TX takes such packets
 * without the general parse.
 */
export function oneSlotSize(batch: Mem, at: number): number {
  if ((txReqFlags(batch, at) & (NETTXF_extra_info | NETTXF_more_data)) !== 0) return -1;
  const size = txReqSize(batch, at);
  return size >= ETH_HLEN && txReqOffset(batch, at) + size <= PAGE ? size : -1;
}

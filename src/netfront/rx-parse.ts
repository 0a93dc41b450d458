/**
 * Reading one received packet out of the private copy of RX responses (RX is named from
 * the frontend's point of view: frames the guest receives).
 *
 * The backend is not trusted either (xen-protocol.md §7.5). netfront copies the responses
 * between `rsp_cons` and the `rsp_prod` it read once, then parses them here. A packet is a
 * first response, its extra-info responses, then more responses while NETRXF_more_data is
 * set. As in Linux's netfront, buffers are found by ring position (request k was posted at
 * ring index k, with id k & mask), so a response can only ever name a buffer this queue
 * posted; a bad status, offset or extra drops the packet and recycles its buffers, and a
 * packet whose more_data runs past what was published is dropped too ("Need more slots").
 * Nothing here allocates: the verdict goes into a reused `RxPacket`.
 */
import { Verdict } from "../base/reason.js";
import type { Mem } from "../wire/mem.js";
import {
  extraFlags,
  extraType,
  NETRXF_extra_info,
  NETRXF_more_data,
  rxRspFlags,
  rxRspId,
  rxRspOffset,
  rxRspStatus,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_MAX,
  XEN_NETIF_EXTRA_TYPE_XDP,
  XEN_NETIF_NR_SLOTS_MIN,
} from "../wire/xen/netif.js";

const PAGE = 4096;
export const RX_SLOT_BYTES = 8;
/** Linux's RX_COPY_THRESHOLD: a first slot this small may take one slot more. */
const RX_COPY_THRESHOLD = 256;

export enum RxVerdict {
  Ok = 0,
  /** Its buffers are recycled, the queue goes on. */
  Drop = 1,
}

export enum RxReason {
  None = 0,
  MissingExtra = 1,
  BadExtraType = 2,
  BadId = 3,
  BadStatus = 4,
  NeedMoreSlots = 5,
  TooManySlots = 6,
}

export const RX_REASON_TEXT: readonly string[] = [
  "",
  "Missing extra info",
  "Invalid extra type: a",
  "Bad rx response id a",
  "rx->offset: a, size: b",
  "Need more slots",
  "Too many slots",
];

export class RxPacket extends Verdict<RxVerdict, RxReason> {
  /** Batch index of the first response. */
  start = 0;
  /** Responses consumed: the first, its extras and its continuation slots. */
  consumed = 0;
  nExtras = 0;
  /** Data slots (first and continuations). */
  nData = 0;
  /** Sum of the data slots' statuses: the frame's length. */
  length = 0;
  /** NETRXF_* of the first response. */
  flags = 0;
  /** Batch index of the GSO extra, or -1. */
  gsoAt = -1;

  constructor() {
    super(RX_REASON_TEXT);
  }

  /** Starts the next packet at batch index `start`. */
  reset(start: number): void {
    this.clear();
    this.start = start;
    this.consumed = 1;
    this.nExtras = 0;
    this.nData = 0;
    this.length = 0;
    this.gsoAt = -1;
  }

  /** The first failure stands: later checks of the same packet do not overwrite it. */
  drop(reason: RxReason, a: number, b: number): void {
    if (this.verdict === RxVerdict.Ok) this.fail(RxVerdict.Drop, reason, a, b);
  }
}

/**
 * Parses the packet whose first response is batch index `start` (response i at byte
 * `base + i * 8`, ring index `firstIdx + i`), with `avail` responses published from `start`
 * on. A response must carry the id its position was posted with (`idx & mask`). Loops are
 * bounded by `avail`. With the `headroom` we asked for (xdp-headroom), each slot's data
 * starts that far into its buffer and its status counts it (Linux netback's layout), and
 * the XDP extra is expected; without, an XDP extra is an unknown type. Returns `out.verdict`.
 */
export function parseRxPacket(
  batch: Mem,
  base: number,
  start: number,
  avail: number,
  firstIdx: number,
  mask: number,
  out: RxPacket,
  headroom = 0,
): RxVerdict {
  out.reset(start);
  let at = base + start * RX_SLOT_BYTES;
  const flags = rxRspFlags(batch, at);
  const firstStatus = rxRspStatus(batch, at);
  out.flags = flags;
  let i = 1;
  if (flags & NETRXF_extra_info) {
    let more = true;
    while (more) {
      if (i >= avail) return drop(out, i, RxReason.MissingExtra, 0, 0);
      const x = base + (start + i) * RX_SLOT_BYTES;
      const type = extraType(batch, x);
      more = (extraFlags(batch, x) & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
      i++;
      out.nExtras++;
      if (type === XEN_NETIF_EXTRA_TYPE_XDP && headroom > 0) continue;
      if (type === 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX) out.drop(RxReason.BadExtraType, type, 0);
      else if (type === XEN_NETIF_EXTRA_TYPE_GSO) out.gsoAt = start + i - 1;
    }
  }
  // The first data slot, then one per more_data; extras sit between the first and the rest.
  let k = 0;
  let slot = start;
  for (;;) {
    at = base + slot * RX_SLOT_BYTES;
    const id = rxRspId(batch, at);
    const status = rxRspStatus(batch, at);
    const offset = rxRspOffset(batch, at);
    const want = (firstIdx + slot) & mask;
    out.nData++;
    if (id !== want) out.drop(RxReason.BadId, id, want);
    else if (status < headroom || offset + status > PAGE) out.drop(RxReason.BadStatus, offset, status);
    else out.length += status - headroom;
    if ((rxRspFlags(batch, at) & NETRXF_more_data) === 0) break;
    if (i + k >= avail) return drop(out, i + k, RxReason.NeedMoreSlots, 0, 0);
    slot = start + i + k;
    k++;
  }
  out.consumed = i + k;
  const max = XEN_NETIF_NR_SLOTS_MIN + (firstStatus <= RX_COPY_THRESHOLD ? 1 : 0);
  if (out.nData > max) out.drop(RxReason.TooManySlots, out.nData, max);
  return out.verdict;
}

function drop(out: RxPacket, consumed: number, reason: RxReason, a: number, b: number): RxVerdict {
  out.consumed = consumed;
  out.drop(reason, a, b);
  return out.verdict;
}

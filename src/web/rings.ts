/**
 * A vif's ring indices as shared memory holds them, sampled from the main thread: the ring
 * refs come from the mirrored xenstore tree, the guest's grant entry gives the frame, and
 * the shared ring's header (Xen's sring: req_prod, req_event, rsp_prod, rsp_event) is read
 * from the guest's memory. Nothing is hooked: a sample costs the datapath nothing. Every
 * word is the guest's to write, so each is read once and checked before it is used.
 */
import { PAGE_SIZE } from "../hv/memory.js";
import { GRANT_ENTRY_V1_SIZE, GTF_permit_access, GTF_type_mask } from "../wire/xen/grant.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../wire/xen/netif.js";
import {
  ringEntries,
  SRING_HDR_SIZE,
  SRING_REQ_EVENT,
  SRING_REQ_PROD,
  SRING_RSP_EVENT,
  SRING_RSP_PROD,
} from "../wire/xen/sring.js";

/** One ring's shared indices; `inFlight` is req_prod - rsp_prod (requests not yet answered). */
export interface RingSample {
  /** The grant reference of the ring's first page. */
  ref: number;
  /** Slots in the ring (from its page count and entry size). */
  size: number;
  reqProd: number;
  reqEvent: number;
  rspProd: number;
  rspEvent: number;
  inFlight: number;
}

export interface QueueRings {
  queue: number;
  tx: RingSample | null;
  rx: RingSample | null;
}

export interface RingVif {
  readonly domid: number;
  readonly devid: number;
  readonly queues: number;
  readonly ringPageOrder: number;
}

/** Reads one ring: null when the ref is not (or no longer) a valid grant of a page the guest has. */
export function sampleRing(
  memory: SharedArrayBuffer,
  grantTable: SharedArrayBuffer,
  refText: string | undefined,
  pages: number,
  entrySize: number,
): RingSample | null {
  if (refText === undefined || !/^\d{1,10}$/.test(refText)) return null;
  const ref = Number(refText);
  const entries = grantTable.byteLength / GRANT_ENTRY_V1_SIZE;
  if (ref >= entries) return null;
  const g = new DataView(grantTable, ref * GRANT_ENTRY_V1_SIZE, GRANT_ENTRY_V1_SIZE);
  const flags = g.getUint16(0, true);
  if ((flags & GTF_type_mask) !== GTF_permit_access) return null;
  const frame = g.getUint32(4, true);
  if (frame >= memory.byteLength / PAGE_SIZE) return null;
  const hdr = new DataView(memory, frame * PAGE_SIZE, SRING_HDR_SIZE);
  const reqProd = hdr.getUint32(SRING_REQ_PROD, true);
  const rspProd = hdr.getUint32(SRING_RSP_PROD, true);
  return {
    ref,
    size: ringEntries(pages * PAGE_SIZE, entrySize),
    reqProd,
    reqEvent: hdr.getUint32(SRING_REQ_EVENT, true),
    rspProd,
    rspEvent: hdr.getUint32(SRING_RSP_EVENT, true),
    inFlight: (reqProd - rspProd) >>> 0,
  };
}

/**
 * Every queue's TX and RX ring of a vif. `value` reads the mirrored xenstore tree; `mem`
 * is the guest's memory and grant table (Machine.inspect), undefined once it is gone.
 */
export function sampleVifRings(
  v: RingVif,
  value: (path: string) => string | undefined,
  mem: { memory: SharedArrayBuffer; grantTable: SharedArrayBuffer } | undefined,
): QueueRings[] {
  const out: QueueRings[] = [];
  const fe = `/local/domain/${v.domid}/device/vif/${v.devid}`;
  // Orders above 4 are refused by netback; clamp so a bad status word cannot ask for more.
  const order = Math.min(Math.max(v.ringPageOrder, 0), 4);
  const suffix = order === 0 ? "" : "0";
  for (let q = 0; q < Math.min(v.queues, 8); q++) {
    const dir = v.queues > 1 ? `${fe}/queue-${q}` : fe;
    if (mem === undefined) {
      out.push({ queue: q, tx: null, rx: null });
      continue;
    }
    out.push({
      queue: q,
      tx: sampleRing(
        mem.memory,
        mem.grantTable,
        value(`${dir}/tx-ring-ref${suffix}`),
        1 << order,
        NETIF_TX_ENTRY_SIZE,
      ),
      rx: sampleRing(
        mem.memory,
        mem.grantTable,
        value(`${dir}/rx-ring-ref${suffix}`),
        1 << order,
        NETIF_RX_ENTRY_SIZE,
      ),
    });
  }
  return out;
}

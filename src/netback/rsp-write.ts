/**
 * netback's responses written straight into the ring: most slots lie within one page, so a
 * response is two or four stores at the slot's precomputed offset (BackRing.directResponse),
 * without the per-slot stage and `wmem` of beginResponse/endResponse; only a slot that
 * straddles two ring pages (12-byte TX entries from ring order 2 on) goes through the stage.
 * The bytes written are those of the per-slot path, slot for slot.
 */
import type { BackRing } from "../ring/back.js";
import { rxRspWrite, txRspWrite } from "../wire/xen/netif.js";

/** The next TX response: `id` and `status` (bytes 4-11 of the slot left as they are). */
export function writeTxResponse(ring: BackRing, id: number, status: number): void {
  const off = ring.directResponse();
  if (off >= 0) {
    txRspWrite(ring.area.mem, off, id, status);
    return;
  }
  const at = ring.beginResponse();
  txRspWrite(ring.wmem, at, id, status);
  ring.endResponse();
}

/** The next RX response: `id`, `offset`, `flags`, `status`. */
export function writeRxResponse(
  ring: BackRing,
  id: number,
  offset: number,
  flags: number,
  status: number,
): void {
  const off = ring.directResponse();
  if (off >= 0) {
    rxRspWrite(ring.area.mem, off, id, offset, flags, status);
    return;
  }
  const at = ring.beginResponse();
  rxRspWrite(ring.wmem, at, id, offset, flags, status);
  ring.endResponse();
}

/**
 * Xen's shared descriptor rings (`io/ring.h`) over 1 to 16 granted pages that need not be
 * contiguous: {@link RingArea} says where a ring lives, {@link FrontRing} and
 * {@link BackRing} are its two ends. Notify decisions are returned to the caller, and an
 * impossible index written by the peer is returned as a negative error code
 * ({@link RING_ERR_REQ_PROD}, {@link RING_ERR_RSP_PROD}), never thrown. The byte rings of
 * the xenstore and console pages are {@link ByteRingReader} and {@link ByteRingWriter}.
 *
 * @module pvnet/ring
 */
export { MAX_RING_PAGE_ORDER, RingArea } from "./area.js";
export { BackRing } from "./back.js";
export {
  BYTE_RING_BAD_INDEX,
  type ByteRingPlace,
  ByteRingReader,
  ByteRingWriter,
} from "./byte-ring.js";
export { RING_ERR_REQ_PROD, RING_ERR_RSP_PROD, ringErrorText } from "./errors.js";
export { FrontRing } from "./front.js";
export { RingEnd, SlotWriter } from "./slots.js";

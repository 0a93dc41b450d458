/**
 * What a send returns: 0, or a negative Linux errno, as sendto(2) would report it. A
 * frame that waits for ARP or for ring space counts as sent (0): its later fate shows in
 * the counters (txDropNoArp), as with a kernel socket.
 */
export const SEND_OK = 0;
/** The stack is down. */
export const SEND_ENETDOWN = -100;
/** No room: the transmit queue, or the destination's ARP pending queue, is full. */
export const SEND_ENOBUFS = -105;
/** Larger than the MTU allows (the stack does not fragment). */
export const SEND_EMSGSIZE = -90;
/** The destination is our own address, 0.0.0.0 or multicast: no loopback, no multicast. */
export const SEND_EINVAL = -22;

/** The errno name of a send status ("ENOBUFS"), or "OK". */
export function sendStatusName(status: number): string {
  switch (status) {
    case SEND_OK:
      return "OK";
    case SEND_ENETDOWN:
      return "ENETDOWN";
    case SEND_ENOBUFS:
      return "ENOBUFS";
    case SEND_EMSGSIZE:
      return "EMSGSIZE";
    case SEND_EINVAL:
      return "EINVAL";
    default:
      return `E${-status}`;
  }
}

/**
 * Protocol errors a ring reports to its caller, as negative numbers (never exceptions:
 * the indices come from a peer that may lie). The driver decides what follows; netback
 * disables the vif, netfront marks the device broken.
 */
/**
 * The peer's request producer claims more outstanding requests than the ring holds, or
 * moved back behind requests already consumed.
 */
export const RING_ERR_REQ_PROD = -1;
/** The peer's response producer claims responses to requests never pushed. */
export const RING_ERR_RSP_PROD = -2;

export function ringErrorText(code: number): string {
  switch (code) {
    case RING_ERR_REQ_PROD:
      return "impossible number of requests: req_prod claims more than the ring holds, or moved back";
    case RING_ERR_RSP_PROD:
      return "illegal number of responses: rsp_prod claims responses to requests never pushed";
    default:
      return `ring error ${code}`;
  }
}

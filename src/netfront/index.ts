/**
 * netfront, the guest's half of a vif, as a library: {@link Netif} connects a guest's
 * `device/vif/N` (the xenbus handshake Linux's netfront walks) and is then a network
 * device, about as small as MirageOS's netif: `write` a frame, `listen` for frames, its
 * MAC and MTU, `stats`, `status`, `disconnect`; and a zero-copy send (`txBuffer` lends a
 * granted TX buffer, `txCommit` sends what was built in it). It is also the device `NetStack` from
 * `pvnet/stack` sits on. Call it from a domain program (a guest's worker thread).
 *
 * @module pvnet/netfront
 */
export { NETFRONT_QUEUE_COUNTERS, type NetfrontQueueCounter } from "./counters.js";
export { type FrameListener, Netif, type NetifOptions, type NetifStats } from "./netif.js";
export type { NetfrontStatus } from "./xenbus.js";

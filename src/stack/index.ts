/**
 * pvnet's small guest IP stack as a library: {@link NetStack} over a device (a `Netif`
 * from `pvnet/netfront`, or any {@link NetDevice}): an IPv4 address, ARP, ICMP echo
 * answered and `ping`, UDP sockets and the echo service. What it does not do (TCP, IPv6,
 * fragments, routing...) is listed on {@link NetStack}. The device's frames go in with
 * `receive`, and `onWritable` after a refused send: two lines of wiring.
 *
 * @module pvnet/stack
 */

export { formatIpv4, parseIpv4 } from "../wire/net/ipv4.js";
export type { ArpEntry, ArpOptions, NeighbourState } from "./arp.js";
export { STACK_COUNTER_NAMES, type StackCounterName } from "./counters.js";
export {
  type NetDevice,
  RX_CSUM_BLANK,
  RX_DATA_VALIDATED,
  TX_CSUM_BLANK,
  TX_DATA_VALIDATED,
} from "./device.js";
export { NetStack, type StackOptions } from "./iface.js";
export type { PingFailure, PingOptions, PingResult } from "./ping.js";
export type { Udp, UdpHandler, UdpSocket } from "./udp.js";
export { UDP_ECHO_PORT } from "./udp-echo.js";

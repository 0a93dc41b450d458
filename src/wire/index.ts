/**
 * Byte layouts only: Xen's shared structures (sring, netif, netif control ring, grant
 * entries and grant ops, event channel ops, xs_wire and the xenstore ring page), Ethernet,
 * 802.1Q, ARP, IPv4, ICMP, UDP, VXLAN and checksums, and pcap/pcapng files. Each layout has
 * two faces: allocation-free accessors over a {@link Mem} at a byte offset, for hot paths,
 * and `parse*`/`emit*` functions over a `Repr` object, which return a {@link ParseError}
 * (never throw) on bad input.
 *
 * @module pvnet/wire
 */
export * from "./copy.js";
export * from "./layout.js";
export * from "./mem.js";
export * from "./net/arp.js";
export * from "./net/checksum.js";
export * from "./net/ethernet.js";
export * from "./net/icmp.js";
export * from "./net/ipv4.js";
export * from "./net/ipv6.js";
export * from "./net/rss.js";
export * from "./net/tcp.js";
export * from "./net/udp.js";
export * from "./net/vlan.js";
export * from "./net/vxlan.js";
export * from "./pcap.js";
export * from "./pcapng.js";
export * from "./xen/evtchn.js";
export * from "./xen/grant.js";
export * from "./xen/netif.js";
export * from "./xen/netif-ctrl.js";
export * from "./xen/sring.js";
export * from "./xen/xs-ring.js";
export * from "./xen/xs-wire.js";

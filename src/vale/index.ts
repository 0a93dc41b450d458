/**
 * VALE, netmap's learning switch, over netmap ports: {@link installVale} makes `valeX:P`
 * names open switch ports in a netmap context; {@link ValeSwitch} forwards between them
 * with a pluggable lookup ({@link learningLookup} by default); devices and their host
 * stacks join a switch as `vale-ctl -a`/`-h` attach them ({@link valeAttach}); ports owned
 * by other threads join through {@link attachRemotePort}; {@link ValeCapture} records what a
 * switch forwards into a pcap or pcapng file; {@link SoftOffload} segments and checksums
 * frames for ports that take no offloads.
 *
 * @module pvnet/vale
 */
export * from "./bwrap.js";
export * from "./capture.js";
export * from "./frags.js";
export * from "./install.js";
export * from "./learn.js";
export * from "./port.js";
export * from "./remote.js";
export * from "./soft-offload.js";
export * from "./switch.js";

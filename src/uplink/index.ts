/** Uplinks: a switch's ports to networks outside the host (VXLAN, RFC 7348, and Linux taps). */

export * from "./counters.js";
export * from "./dom0-uplinks.js";
export * from "./nic-adapter.js";
export * from "./nic-port.js";
export * from "./status.js";
export * from "./tap/adapter.js";
export * from "./tap/uplink.js";
export * from "./vxlan/adapter.js";
export * from "./vxlan/config.js";
export * from "./vxlan/counters.js";
export * from "./vxlan/decap.js";
export * from "./vxlan/fdb.js";
export * from "./vxlan/shared.js";
export * from "./vxlan/uplink.js";

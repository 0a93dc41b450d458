/** Uplinks: a switch's ports to networks outside the host (VXLAN, RFC 7348). */

export * from "./dom0-uplinks.js";
export * from "./status.js";
export * from "./vxlan/adapter.js";
export * from "./vxlan/config.js";
export * from "./vxlan/counters.js";
export * from "./vxlan/decap.js";
export * from "./vxlan/fdb.js";
export * from "./vxlan/shared.js";
export * from "./vxlan/uplink.js";

/**
 * Batched UDP for the VXLAN uplink (native/udp.c): recvmmsg and sendmmsg on a non-blocking
 * socket, and a libuv poll handle for readiness. Node's dgram module costs a Buffer, an
 * address object and a JavaScript call per datagram, several times what pvnet spends on
 * one; this moves up to 64 per call, straight to and from memory the uplink owns.
 *
 * It is an addon built when the package is installed (`npm install` runs node-gyp); where
 * it did not build, or PVNET_UDP=dgram asks, the uplink uses Node's dgram socket, and its
 * status says which (`socket`).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { VxlanBatchSocket } from "./adapter.js";

/** The addon's functions (native/udp.c has their contracts). */
export interface NativeUdp {
  open(ip: string, port: number, bufBytes: number): number;
  localPort(fd: number): number;
  close(fd: number): void;
  recv(fd: number, u8: Uint8Array, base: number, slotBytes: number, n: number, meta: Int32Array): number;
  /** The adapter's batch send (VxlanBatchSocket.send), on socket `fd`. */
  send(fd: number, ...batch: Parameters<VxlanBatchSocket["send"]>): number;
  watch(fd: number, cb: (readable: boolean, writable: boolean) => void): NativeWatch;
  want(w: NativeWatch, readable: boolean, writable: boolean): void;
  unwatch(w: NativeWatch): void;
}

/** A poll handle (opaque). */
export type NativeWatch = { readonly __nativeWatch: never };

/** Most datagrams one recv or send call moves (native/udp.c's MAX_BATCH is the cap). */
export const NATIVE_UDP_BATCH = 64;

function load(): { udp: NativeUdp | null; why: string } {
  if (process.env.PVNET_UDP === "dgram") return { udp: null, why: "PVNET_UDP=dgram" };
  if (process.platform !== "linux") return { udp: null, why: `recvmmsg is Linux's (${process.platform})` };
  // dist/src/uplink/vxlan -> the package root.
  const path = fileURLToPath(new URL("../../../../native/build/Release/pvnet_udp.node", import.meta.url));
  if (!existsSync(path))
    return { udp: null, why: "the addon was not built (npm install builds it with node-gyp)" };
  try {
    return { udp: createRequire(import.meta.url)(path) as NativeUdp, why: "" };
  } catch (e) {
    return { udp: null, why: `the addon did not load: ${(e as Error).message.split("\n")[0]}` };
  }
}

const loaded = load();
/** The addon, or null (then `nativeUdpWhy` says why). */
export const nativeUdp: NativeUdp | null = loaded.udp;
export const nativeUdpWhy: string = loaded.why;

/** `a.b.c.d` as the int32 the addon takes (host order). */
export function ipv4ToInt(address: string): number {
  const p = address.split(".");
  return (Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3]) | 0;
}

/** The addon's int32 address as `a.b.c.d`. */
export function intToIpv4(ip: number): string {
  return `${(ip >>> 24) & 255}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

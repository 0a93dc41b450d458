/**
 * The frontend's `xdp-headroom` (Linux's netif.h extension): bytes netback leaves free
 * before the frame in every RX buffer, so the guest can grow headers in place (XDP). Read
 * as Linux's read_xenbus_frontend_xdp: anything but a decimal is 0, and a value above
 * XEN_NETIF_MAX_XDP_HEADROOM is cut to it. pvnet also keeps half of each 4 KiB buffer for
 * data, so a frame still fits the 18 slots a guest must take: Linux would accept a headroom
 * that leaves no room at all and then fail every frame.
 */
import type { XsOps } from "../xenstore/client.js";
import { KEY_XDP_HEADROOM } from "../xenstore/keys.js";
import { readOrUndefined } from "../xenstore/xenbus.js";

/** Linux's XEN_NETIF_MAX_XDP_HEADROOM. */
export const XEN_NETIF_MAX_XDP_HEADROOM = 0x7fff;
/** pvnet's bound: half a page, so every slot holds at least 2 KiB of frame. */
export const XDP_HEADROOM_MAX = 2048;

export function boundXdpHeadroom(text: string | undefined): number {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return 0;
  return Math.min(Number(text), XEN_NETIF_MAX_XDP_HEADROOM, XDP_HEADROOM_MAX);
}

export async function readXdpHeadroom(xs: XsOps, feDir: string): Promise<number> {
  return boundXdpHeadroom(await readOrUndefined(xs, `${feDir}/${KEY_XDP_HEADROOM}`));
}

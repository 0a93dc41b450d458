/**
 * feature-dynamic-multicast-control: the frontend may flip request-multicast-control while
 * connected, and netback watches it (Linux's xen_mcast_ctrl_changed). The value is the
 * guest's: anything but a decimal reads as 0 (no filtering), as xenbus_read_unsigned's
 * default does, so a bad value can only give the guest more multicast, never fail.
 */
import type { XsOps } from "../xenstore/client.js";
import { KEY_REQUEST_MULTICAST_CONTROL } from "../xenstore/keys.js";
import { readOrUndefined } from "../xenstore/xenbus.js";

export async function readMcastRequest(xs: XsOps, feDir: string): Promise<boolean> {
  const v = await readOrUndefined(xs, `${feDir}/${KEY_REQUEST_MULTICAST_CONTROL}`);
  return v !== undefined && /^\d{1,10}$/.test(v) && Number(v) !== 0;
}

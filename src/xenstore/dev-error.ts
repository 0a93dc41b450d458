/**
 * xenbus_dev_fatal's record, shared by both ends of a split driver: the reason goes to
 * `/local/domain/<writer>/error/<nodename>/error`, the nodename relative to the writer's
 * home (Domain-0's netback: error/backend/vif/<domid>/<devid>/error; a guest's netfront:
 * error/device/vif/<devid>/error), as "<errno> <message>" (a
 * positive Linux errno, as `xenbus_va_dev_error` prints it), where the toolstack looks
 * when a device fails. Switching the device to Closing is the caller's part: it owns the
 * state walk.
 */
import { PvnetError } from "../base/errors.js";
import type { XsOps } from "./client.js";
import { errorPath } from "./keys.js";

/** Linux errno numbers of the codes the drivers report. */
const ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EIO: 5,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
};

/** The errno of a code (EINVAL for one not in the table). */
export function errnoOf(code: string): number {
  return ERRNO[code] ?? ERRNO.EINVAL!;
}

/** A device error with its errno code, as the drivers raise it while reading the other end. */
export class DevError extends PvnetError {
  override name = "DevError";
}

/** "<errno> <message>", the text xenbus_dev_fatal writes. */
export function devErrorText(code: string, message: string): string {
  return `${errnoOf(code)} ${message}`;
}

/**
 * Writes the error node for `nodename` (absolute, or relative to the writer's home as a
 * frontend's "device/vif/0" is). Never throws: a store that refuses the record must not
 * hide the failure being reported; the returned text says what was (meant to be) written.
 */
export async function writeDevError(
  xs: XsOps,
  writerDomid: number,
  nodename: string,
  code: string,
  message: string,
): Promise<string> {
  const text = devErrorText(code, message);
  try {
    await xs.write(errorPath(writerDomid, nodename), text);
  } catch {
    // The device is being reported as failed anyway; the log line carries the same text.
  }
  return text;
}

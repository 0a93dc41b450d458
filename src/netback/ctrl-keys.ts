/**
 * The control ring's keys in the frontend's directory, read at connect as Linux's
 * connect_ctrl_ring does: `ctrl-ring-ref` absent or 0 means no control ring; present, it
 * needs `event-channel-ctrl`. Each value is the guest's: read once, decimal digits only,
 * bounded (a grant ref is a u32, a port below EVTCHN_NR_PORTS); anything else is a
 * DevError, as a bad data ring key is.
 */
import { EVTCHN_NR_PORTS } from "../hv/evtchn.js";
import type { XsOps } from "../xenstore/client.js";
import { DevError } from "../xenstore/dev-error.js";
import { KEY_CTRL_RING_REF, KEY_EVENT_CHANNEL_CTRL } from "../xenstore/keys.js";
import { readOrUndefined } from "../xenstore/xenbus.js";

export interface CtrlRingKeys {
  readonly ref: number;
  readonly port: number;
}

const DECIMAL = /^\d{1,10}$/;

function parseU32(s: string): number | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

/** The control ring's ref and port, or null when the frontend asked for none. */
export async function readCtrlRingKeys(xs: XsOps, frontDir: string): Promise<CtrlRingKeys | null> {
  const refText = await readOrUndefined(xs, `${frontDir}/${KEY_CTRL_RING_REF}`);
  if (refText === undefined) return null;
  const ref = parseU32(refText);
  if (ref === undefined) throw new DevError("EINVAL", `reading ${frontDir}/${KEY_CTRL_RING_REF}`);
  if (ref === 0) return null;
  const portText = await readOrUndefined(xs, `${frontDir}/${KEY_EVENT_CHANNEL_CTRL}`);
  const port = portText === undefined ? undefined : parseU32(portText);
  if (port === undefined || port === 0 || port >= EVTCHN_NR_PORTS)
    throw new DevError(
      portText === undefined ? "ENOENT" : "EINVAL",
      `reading ${frontDir}/${KEY_EVENT_CHANNEL_CTRL}`,
    );
  return { ref, port };
}

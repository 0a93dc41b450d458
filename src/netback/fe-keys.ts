/**
 * What netback reads from a frontend's directory when it connects (Linux's connect(),
 * read_xenbus_vif_flags and connect_data_rings): queue count, ring page order, each
 * queue's ring refs and event channels, and the frontend's feature flags.
 *
 * Every value is the guest's: each is read once, parsed strictly (decimal digits only, no
 * sign, no spaces, no trailing text) and bounded here, so nothing after this module sees a
 * number it did not check. A bad value is a DevError carrying the errno xenbus_dev_fatal
 * writes.
 */
import { EVTCHN_NR_PORTS } from "../hv/evtchn.js";
import type { XsOps } from "../xenstore/client.js";
import { DevError } from "../xenstore/dev-error.js";
import {
  FEATURE_GSO_TCPV4,
  FEATURE_GSO_TCPV6,
  FEATURE_IPV6_CSUM_OFFLOAD,
  FEATURE_NO_CSUM_OFFLOAD,
  FEATURE_RX_NOTIFY,
  FEATURE_SG,
  KEY_EVENT_CHANNEL,
  KEY_EVENT_CHANNEL_RX,
  KEY_EVENT_CHANNEL_TX,
  KEY_MULTI_QUEUE_NUM_QUEUES,
  KEY_REQUEST_RX_COPY,
  KEY_RX_RING_REF,
  KEY_TX_RING_REF,
  queuePath,
} from "../xenstore/keys.js";
import { readOrUndefined } from "../xenstore/xenbus.js";
import { readMcastRequest } from "./mcast-watch.js";
import type { BackFeatures } from "./vif-api.js";
import { readXdpHeadroom } from "./xdp-headroom.js";

/** blkif's name for the log2 page count of each ring (pvnet's multi-page vif extension). */
export const KEY_RING_PAGE_ORDER = "ring-page-order";
/** blkback's spelling of the backend's bound on it. */
export const KEY_MAX_RING_PAGE_ORDER = "max-ring-page-order";

export interface FrontQueueKeys {
  /** One grant ref per ring page, in page order. */
  readonly txRefs: readonly number[];
  readonly rxRefs: readonly number[];
  /** The frontend's unbound ports; equal when it uses one channel. */
  readonly txPort: number;
  readonly rxPort: number;
}

export interface FrontConnKeys {
  readonly order: number;
  readonly split: boolean;
  readonly queues: readonly FrontQueueKeys[];
  readonly features: BackFeatures;
}

export interface FrontKeyLimits {
  readonly maxQueues: number;
  readonly maxRingPageOrder: number;
}

const DECIMAL = /^\d{1,10}$/;

/** A decimal in 0..max, or a DevError naming the key. */
export function parseBounded(text: string, key: string, max: number): number {
  if (!DECIMAL.test(text)) throw new DevError("EINVAL", `${key}: "${clip(text)}" is not a decimal number`);
  const n = Number(text);
  if (n > max) throw new DevError("ERANGE", `${key}: ${n} out of range (0..${max})`);
  return n;
}

export async function readBounded(
  xs: XsOps,
  dir: string,
  key: string,
  max: number,
  dflt?: number,
): Promise<number> {
  const v = await readOrUndefined(xs, `${dir}/${key}`);
  if (v === undefined) {
    if (dflt === undefined) throw new DevError("ENOENT", `reading ${dir}/${key}`);
    return dflt;
  }
  return parseBounded(v, `${dir}/${key}`, max);
}

async function readFlag(xs: XsOps, dir: string, key: string, dflt: boolean): Promise<boolean> {
  const v = await readOrUndefined(xs, `${dir}/${key}`);
  if (v === undefined) return dflt;
  return parseBounded(v, `${dir}/${key}`, 0xffffffff) !== 0;
}

async function readPort(xs: XsOps, dir: string, key: string): Promise<number> {
  const p = await readBounded(xs, dir, key, EVTCHN_NR_PORTS - 1);
  if (p === 0) throw new DevError("EINVAL", `${dir}/${key}: port 0 is never bound`);
  return p;
}

async function readRefs(xs: XsOps, dir: string, key: string, order: number): Promise<number[]> {
  if (order === 0) return [await readBounded(xs, dir, key, 0xffffffff)];
  const refs: number[] = [];
  for (let i = 0; i < 1 << order; i++) refs.push(await readBounded(xs, dir, `${key}${i}`, 0xffffffff));
  return refs;
}

async function readQueue(
  xs: XsOps,
  dir: string,
  order: number,
): Promise<{ q: FrontQueueKeys; split: boolean }> {
  const txRefs = await readRefs(xs, dir, KEY_TX_RING_REF, order);
  const rxRefs = await readRefs(xs, dir, KEY_RX_RING_REF, order);
  // Split channels when the frontend wrote event-channel-tx (it then must write -rx too),
  // else the one event-channel, as connect_data_rings falls back.
  if ((await readOrUndefined(xs, `${dir}/${KEY_EVENT_CHANNEL_TX}`)) !== undefined) {
    const txPort = await readPort(xs, dir, KEY_EVENT_CHANNEL_TX);
    const rxPort = await readPort(xs, dir, KEY_EVENT_CHANNEL_RX);
    if (txPort === rxPort)
      throw new DevError("EINVAL", `${dir}: split event channels name the same port ${txPort}`);
    return { q: { txRefs, rxRefs, txPort, rxPort }, split: true };
  }
  const port = await readPort(xs, dir, KEY_EVENT_CHANNEL);
  return { q: { txRefs, rxRefs, txPort: port, rxPort: port }, split: false };
}

/** Reads and checks everything a connect needs; throws DevError on the first bad value. */
export async function readFrontendKeys(
  xs: XsOps,
  feDir: string,
  lim: FrontKeyLimits,
): Promise<FrontConnKeys> {
  const nq = await readBounded(xs, feDir, KEY_MULTI_QUEUE_NUM_QUEUES, 0xffffffff, 1);
  if (nq === 0 || nq > lim.maxQueues)
    throw new DevError(
      "EINVAL",
      `guest requested ${nq} queues, exceeding the maximum of ${lim.maxQueues} (or none).`,
    );
  const order = await readBounded(xs, feDir, KEY_RING_PAGE_ORDER, lim.maxRingPageOrder, 0);
  // request-rx-copy=1: copying receive; 0: flipping (feature-rx-flip); absent: refused, as Linux.
  const rxCopyKey = await readOrUndefined(xs, `${feDir}/${KEY_REQUEST_RX_COPY}`);
  const rxCopy =
    rxCopyKey === undefined ? -1 : parseBounded(rxCopyKey, `${feDir}/${KEY_REQUEST_RX_COPY}`, 0xffffffff);
  if (rxCopy !== 0 && rxCopy !== 1)
    throw new DevError("EOPNOTSUPP", `${feDir}/${KEY_REQUEST_RX_COPY}: expected 1 (copy) or 0 (flip)`);
  const features: BackFeatures = {
    sg: await readFlag(xs, feDir, FEATURE_SG, false),
    gsoTcpv4: await readFlag(xs, feDir, FEATURE_GSO_TCPV4, false),
    gsoTcpv6: await readFlag(xs, feDir, FEATURE_GSO_TCPV6, false),
    csumOffload: !(await readFlag(xs, feDir, FEATURE_NO_CSUM_OFFLOAD, false)),
    ipv6CsumOffload: await readFlag(xs, feDir, FEATURE_IPV6_CSUM_OFFLOAD, false),
    // Absent (old frontends, Mini-OS): netback polls the RX ring for buffers (rx-poll.ts).
    rxNotify: await readFlag(xs, feDir, FEATURE_RX_NOTIFY, false),
    multicastControl: await readMcastRequest(xs, feDir),
    xdpHeadroom: await readXdpHeadroom(xs, feDir),
    rxFlip: rxCopy === 0,
  };
  const queues: FrontQueueKeys[] = [];
  let split: boolean | undefined;
  for (let i = 0; i < nq; i++) {
    const r = await readQueue(xs, nq === 1 ? feDir : queuePath(feDir, i), order);
    if (split !== undefined && r.split !== split)
      throw new DevError("EINVAL", `${queuePath(feDir, i)}: mixes split and shared event channels`);
    split = r.split;
    queues.push(r.q);
  }
  // Each page is mapped once: a ref named twice (TX over RX, or two queues on one page)
  // would let one ring's indices run over another's.
  const seen = new Set<number>();
  for (const q of queues)
    for (const ref of [...q.txRefs, ...q.rxRefs]) {
      if (seen.has(ref)) throw new DevError("EINVAL", `grant ref ${ref} named for two ring pages`);
      seen.add(ref);
    }
  return { order, split: split ?? false, queues, features };
}

function clip(s: string): string {
  const t = s.length > 32 ? `${s.slice(0, 32)}...` : s;
  return JSON.stringify(t).slice(1, -1);
}

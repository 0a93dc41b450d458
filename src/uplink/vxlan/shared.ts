/**
 * An uplink's status in memory shared between Domain-0 (the writer) and the host (the
 * reader): the counters, which the adapter bumps in place, then the learnt MACs, which
 * Domain-0 copies in on its status tick. Float64 words: a MAC is a 48-bit integer and an
 * IPv4 address a 32-bit one, both exact.
 */
import { VXLAN_COUNTERS, type VxlanCounter } from "./counters.js";
import type { VxlanUplink } from "./uplink.js";

/** Learnt entries status shows at most. */
export const UPLINK_LEARNT_SHOWN = 64;
const N_COUNTERS = VXLAN_COUNTERS.length;
const LEARNT_COUNT = N_COUNTERS;
const LEARNT_AT = N_COUNTERS + 1;
/** How the uplink's datagrams move: 0 not yet said, 1 native (batched), 2 dgram. */
const SOCKET_AT = LEARNT_AT + 2 * UPLINK_LEARNT_SHOWN;

/** Bytes of one uplink's shared status. */
export const UPLINK_SHARED_BYTES = (SOCKET_AT + 1) * 8;

export function uplinkShared(): SharedArrayBuffer {
  return new SharedArrayBuffer(UPLINK_SHARED_BYTES);
}

function ipv4Value(s: string): number {
  return s.split(".").reduce((a, o) => a * 256 + (Number(o) & 0xff), 0);
}

function ipv4Text(v: number): string {
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join(".");
}

/** Domain-0's tick: the learnt MACs (the first UPLINK_LEARNT_SHOWN) into `sab`. */
export function publishLearnt(u: VxlanUplink, sab: SharedArrayBuffer): void {
  const f = new Float64Array(sab);
  const learnt = u.adapter.fdb.entries();
  const n = Math.min(learnt.length, UPLINK_LEARNT_SHOWN);
  for (let i = 0; i < n; i++) {
    const e = learnt[i];
    f[LEARNT_AT + 2 * i] = Number.parseInt(e.mac.replaceAll(":", ""), 16);
    f[LEARNT_AT + 2 * i + 1] = ipv4Value(u.adapter.remotes[e.remote]?.address ?? "0.0.0.0");
  }
  f[LEARNT_COUNT] = n;
  f[SOCKET_AT] = u.socket === "native" ? 1 : 2;
}

export interface UplinkSharedView {
  readonly counters: Record<VxlanCounter, number>;
  readonly learnt: { mac: string; remote: string }[];
  /** null until Domain-0 has said (its first status tick after the uplink opened). */
  readonly socket: "native" | "dgram" | null;
}

/** The host's read of `sab` (at most a status period old). */
export function readUplinkShared(sab: SharedArrayBuffer): UplinkSharedView {
  const f = new Float64Array(sab);
  const counters = {} as Record<VxlanCounter, number>;
  VXLAN_COUNTERS.forEach((name, i) => {
    counters[name] = f[i];
  });
  const n = Math.min(Math.max(0, f[LEARNT_COUNT] | 0), UPLINK_LEARNT_SHOWN);
  const learnt: { mac: string; remote: string }[] = [];
  for (let i = 0; i < n; i++) {
    const hex = f[LEARNT_AT + 2 * i].toString(16).padStart(12, "0");
    learnt.push({ mac: hex.match(/../g)?.join(":") ?? "", remote: ipv4Text(f[LEARNT_AT + 2 * i + 1]) });
  }
  const k = f[SOCKET_AT];
  return { counters, learnt, socket: k === 1 ? "native" : k === 2 ? "dgram" : null };
}

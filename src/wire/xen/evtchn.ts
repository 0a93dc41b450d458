/**
 * Event channels (Xen public/event_channel.h): the operation numbers, port states and the
 * argument structs of the four operations a split driver uses. An inter-domain channel is
 * made by the frontend's alloc_unbound(dom = self, remote_dom = backend), which returns a
 * port it publishes in xenstore, and the backend's bind_interdomain(remote_dom, remote_port),
 * which returns the backend's own port. `send` sets the peer's pending bit; `close` puts
 * the peer's end back to unbound. evtchn_port_t is uint32_t.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_bind_pirq = 2;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_bind_vcpu = 8;
export const EVTCHNOP_unmask = 9;
export const EVTCHNOP_reset = 10;
export const EVTCHNOP_init_control = 11;
export const EVTCHNOP_expand_array = 12;
export const EVTCHNOP_set_priority = 13;

// evtchn_status.status
export const EVTCHNSTAT_closed = 0;
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;
export const EVTCHNSTAT_pirq = 3;
export const EVTCHNSTAT_virq = 4;
export const EVTCHNSTAT_ipi = 5;

/** 2-level ABI, 64-bit guest: 64 words of 64 selector bits; the FIFO ABI allows 2^17. */
export const EVTCHN_2L_NR_CHANNELS = 64 * 64;
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_NR_CHANNELS = 1 << EVTCHN_FIFO_LINK_BITS;

/*
 *   struct evtchn_alloc_unbound {
 *       domid_t dom, remote_dom;      // @0, @2 in
 *       evtchn_port_t port;           // @4 out
 *   };                                // 8
 *   struct evtchn_bind_interdomain {
 *       domid_t remote_dom;           // @0 in
 *       evtchn_port_t remote_port;    // @4 in
 *       evtchn_port_t local_port;     // @8 out
 *   };                                // 12
 *   struct evtchn_send  { evtchn_port_t port; };   // 4
 *   struct evtchn_close { evtchn_port_t port; };   // 4
 *
 * Field tables: C member -> [offset, width].
 */
export const EVTCHN_ALLOC_UNBOUND_SIZE = 8;
export const EVTCHN_ALLOC_UNBOUND_FIELDS = { dom: [0, 2], remote_dom: [2, 2], port: [4, 4] } as const;
export const EVTCHN_BIND_INTERDOMAIN_SIZE = 12;
export const EVTCHN_BIND_INTERDOMAIN_FIELDS = {
  remote_dom: [0, 2],
  remote_port: [4, 4],
  local_port: [8, 4],
} as const;
export const EVTCHN_SEND_SIZE = 4;
export const EVTCHN_SEND_FIELDS = { port: [0, 4] } as const;
export const EVTCHN_CLOSE_SIZE = 4;
export const EVTCHN_CLOSE_FIELDS = { port: [0, 4] } as const;

checkLayout("evtchn_alloc_unbound", EVTCHN_ALLOC_UNBOUND_SIZE, EVTCHN_ALLOC_UNBOUND_FIELDS);
checkLayout("evtchn_bind_interdomain", EVTCHN_BIND_INTERDOMAIN_SIZE, EVTCHN_BIND_INTERDOMAIN_FIELDS);
checkLayout("evtchn_send", EVTCHN_SEND_SIZE, EVTCHN_SEND_FIELDS);
checkLayout("evtchn_close", EVTCHN_CLOSE_SIZE, EVTCHN_CLOSE_FIELDS);

export function allocUnboundDom(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function allocUnboundRemoteDom(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function allocUnboundPort(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function allocUnboundSetPort(m: Mem, at: number, port: number): void {
  m.u32[(at + 4) >>> 2] = port;
}
/** Writes the inputs (dom, remote_dom) and clears the output port. */
export function allocUnboundWrite(m: Mem, at: number, dom: number, remoteDom: number): void {
  m.u16[at >>> 1] = dom;
  m.u16[(at + 2) >>> 1] = remoteDom;
  m.u32[(at + 4) >>> 2] = 0;
}

export function bindInterdomainRemoteDom(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function bindInterdomainRemotePort(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function bindInterdomainLocalPort(m: Mem, at: number): number {
  return m.u32[(at + 8) >>> 2];
}
export function bindInterdomainSetLocalPort(m: Mem, at: number, port: number): void {
  m.u32[(at + 8) >>> 2] = port;
}
/** Writes the inputs, zeroes the padding at 2..3 and clears the output port. */
export function bindInterdomainWrite(m: Mem, at: number, remoteDom: number, remotePort: number): void {
  m.u16[at >>> 1] = remoteDom;
  m.u16[(at + 2) >>> 1] = 0;
  m.u32[(at + 4) >>> 2] = remotePort;
  m.u32[(at + 8) >>> 2] = 0;
}

/** evtchn_send and evtchn_close are both a lone port. */
export function evtchnPort(m: Mem, at: number): number {
  return m.u32[at >>> 2];
}
export function evtchnSetPort(m: Mem, at: number, port: number): void {
  m.u32[at >>> 2] = port;
}

export interface AllocUnboundRepr {
  dom: number;
  remoteDom: number;
  port: number;
}
export interface BindInterdomainRepr {
  remoteDom: number;
  remotePort: number;
  localPort: number;
}
/** evtchn_send or evtchn_close. */
export interface EvtchnPortRepr {
  port: number;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
function fits(b: Uint8Array, at: number, size: number): boolean {
  return Number.isInteger(at) && at >= 0 && at + size <= b.length;
}

export function parseAllocUnbound(b: Uint8Array, at = 0): AllocUnboundRepr | ParseError {
  if (!fits(b, at, EVTCHN_ALLOC_UNBOUND_SIZE)) return parseError("evtchn_alloc_unbound: buffer too short");
  const dv = view(b);
  return {
    dom: dv.getUint16(at, true),
    remoteDom: dv.getUint16(at + 2, true),
    port: dv.getUint32(at + 4, true),
  };
}
export function emitAllocUnbound(r: AllocUnboundRepr, b: Uint8Array, at = 0): void {
  const dv = view(b);
  dv.setUint16(at, r.dom, true);
  dv.setUint16(at + 2, r.remoteDom, true);
  dv.setUint32(at + 4, r.port >>> 0, true);
}

export function parseBindInterdomain(b: Uint8Array, at = 0): BindInterdomainRepr | ParseError {
  if (!fits(b, at, EVTCHN_BIND_INTERDOMAIN_SIZE))
    return parseError("evtchn_bind_interdomain: buffer too short");
  const dv = view(b);
  return {
    remoteDom: dv.getUint16(at, true),
    remotePort: dv.getUint32(at + 4, true),
    localPort: dv.getUint32(at + 8, true),
  };
}
/** Writes all 12 bytes (padding at 2..3 zeroed). */
export function emitBindInterdomain(r: BindInterdomainRepr, b: Uint8Array, at = 0): void {
  const dv = view(b);
  dv.setUint16(at, r.remoteDom, true);
  dv.setUint16(at + 2, 0, true);
  dv.setUint32(at + 4, r.remotePort >>> 0, true);
  dv.setUint32(at + 8, r.localPort >>> 0, true);
}

export function parseEvtchnPort(b: Uint8Array, at = 0): EvtchnPortRepr | ParseError {
  if (!fits(b, at, EVTCHN_SEND_SIZE)) return parseError("evtchn_send/close: buffer too short");
  return { port: view(b).getUint32(at, true) };
}
export function emitEvtchnPort(r: EvtchnPortRepr, b: Uint8Array, at = 0): void {
  view(b).setUint32(at, r.port >>> 0, true);
}

/**
 * Two guest stacks joined by an in-memory wire, on hand-driven timers: frames cross after
 * `latencyMs` of fake time, carrying their checksum flags as netback turns NETTXF_* into
 * NETRXF_* (a csum_blank frame arrives csum_blank|data_validated).
 */
import type { Clock } from "../../src/base/clock.js";
import { ManualTimers } from "../../src/hv/timer.js";
import {
  type NetDevice,
  RX_CSUM_BLANK,
  RX_DATA_VALIDATED,
  TX_CSUM_BLANK,
  TX_DATA_VALIDATED,
} from "../../src/stack/device.js";
import { NetStack, type StackOptions } from "../../src/stack/iface.js";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import { onesSum } from "../../src/wire/net/checksum.js";
import { ETH_HLEN, ETH_P_IP } from "../../src/wire/net/ethernet.js";
import { IPPROTO_UDP, IPV4_HLEN } from "../../src/wire/net/ipv4.js";
import { UDP_CHECK } from "../../src/wire/net/udp.js";

export const IP_A = 0x0a00_0001; // 10.0.0.1
export const IP_B = 0x0a00_0002; // 10.0.0.2
export const MAC_A = 0x0200_0000_0001;
export const MAC_B = 0x0200_0000_0002;

export interface SentFrame {
  bytes: Uint8Array;
  flags: number;
}

/** Bytes per buffer a lending TestDevice lends, and how many it rotates through. */
const LEND_BUF = 2048;
const LEND_BUFS = 4;

export interface TestDeviceOptions {
  mtu?: number;
  offloadsChecksum?: boolean;
  /** Lend TX buffers (the zero-copy API), each starting `lendOffset` bytes into a 2 KiB buffer. */
  lends?: boolean;
  lendOffset?: number;
}

/**
 * A device that records what it sends and can play a full ring. With `lends` it also lends
 * TX buffers, each filled with 0xa5 first so a field the stack forgets to write shows.
 */
export class TestDevice implements NetDevice {
  readonly mac: number;
  readonly mtu: number;
  readonly offloadsChecksum: boolean;
  readonly sent: SentFrame[] = [];
  /** While true, transmit refuses every frame (ring full), and nothing is lent. */
  full = false;
  /** Called with each accepted frame (a copy). */
  onSend: ((f: SentFrame) => void) | undefined;
  readonly txMem: Mem | undefined;
  /** While true, txBuffer has nothing to lend (the stack must use transmit). */
  noLend = false;
  /** While true, txCommit refuses (as netfront does when the flow's queue is full). */
  refuseCommit = false;
  /** False: frames are counted, not copied into `sent` (for allocation tests). */
  record = true;
  /** Frames sent by commit, by transmit; lends taken back unsent. */
  committed = 0;
  transmitted = 0;
  aborted = 0;
  readonly #lendOffset: number;
  #lentAt = -1;
  #next = 0;

  constructor(mac: number, opts: TestDeviceOptions = {}) {
    this.mac = mac;
    this.mtu = opts.mtu ?? 1500;
    this.offloadsChecksum = opts.offloadsChecksum ?? false;
    this.txMem = opts.lends ? privateMem(LEND_BUF * LEND_BUFS) : undefined;
    this.#lendOffset = opts.lendOffset ?? 0;
  }

  transmit(frame: Uint8Array, len: number, flags: number): boolean {
    if (this.full) return false;
    this.transmitted++;
    if (this.record) this.#record(frame.slice(0, len), flags);
    return true;
  }

  get lending(): boolean {
    return this.#lentAt >= 0;
  }

  txBuffer(maxLen: number): number {
    const m = this.txMem;
    if (m === undefined || this.full || this.noLend || maxLen > LEND_BUF - this.#lendOffset) return -1;
    if (this.#lentAt < 0) {
      const base = (this.#next++ % LEND_BUFS) * LEND_BUF;
      m.u8.fill(0xa5, base, base + LEND_BUF);
      this.#lentAt = base + this.#lendOffset;
    }
    return this.#lentAt;
  }

  txCommit(len: number, flags: number): boolean {
    const at = this.#lentAt;
    if (at < 0 || this.txMem === undefined || this.refuseCommit) return false;
    this.#lentAt = -1;
    this.committed++;
    if (this.record) this.#record(this.txMem.u8.slice(at, at + len), flags);
    return true;
  }

  txAbort(): void {
    if (this.#lentAt >= 0) this.aborted++;
    this.#lentAt = -1;
  }

  #record(bytes: Uint8Array, flags: number): void {
    const f = { bytes, flags };
    this.sent.push(f);
    this.onSend?.(f);
  }
}

/** A Clock that reads ManualTimers' time. */
export function timersClock(timers: ManualTimers): Clock {
  return { nowMs: () => timers.now, nowNs: () => BigInt(timers.now) * 1_000_000n };
}

/** NETTXF_* to NETRXF_* as netback maps them. */
export function rxFlagsOf(txFlags: number): number {
  let rx = 0;
  if (txFlags & TX_CSUM_BLANK) rx |= RX_CSUM_BLANK | RX_DATA_VALIDATED;
  else if (txFlags & TX_DATA_VALIDATED) rx |= RX_DATA_VALIDATED;
  return rx;
}

/**
 * Completes a CHECKSUM_PARTIAL UDP frame as an offloading NIC would: the field holds the
 * pseudo-header sum, so the checksum is the complement of the sum over the datagram.
 */
export function completeUdpChecksum(frame: Uint8Array): void {
  const ip = ETH_HLEN;
  if (((frame[12] << 8) | frame[13]) !== ETH_P_IP || frame[ip + 9] !== IPPROTO_UDP) return;
  const udp = ip + IPV4_HLEN;
  const len = (frame[udp + 4] << 8) | frame[udp + 5];
  const c = ~onesSum(frame, udp, udp + len) & 0xffff;
  frame[udp + UDP_CHECK] = (c === 0 ? 0xffff : c) >>> 8;
  frame[udp + UDP_CHECK + 1] = (c === 0 ? 0xffff : c) & 0xff;
}

export interface Pair {
  a: NetStack;
  b: NetStack;
  devA: TestDevice;
  devB: TestDevice;
  timers: ManualTimers;
  clock: Clock;
  /** Frames dropped on the wire by `cut`. */
  cut: { a: boolean; b: boolean };
}

export interface PairOptions {
  latencyMs?: number;
  offloadA?: boolean;
  offloadB?: boolean;
  /** The wire completes blank checksums and delivers without flags (a NIC, not a guest). */
  completeChecksums?: boolean;
  a?: Partial<StackOptions>;
  b?: Partial<StackOptions>;
  up?: boolean;
  /** Both devices lend TX buffers (the stack builds frames in place). */
  lends?: boolean;
}

export function pair(opts: PairOptions = {}): Pair {
  const timers = new ManualTimers();
  const clock = timersClock(timers);
  const devA = new TestDevice(MAC_A, { offloadsChecksum: opts.offloadA ?? false, lends: opts.lends });
  const devB = new TestDevice(MAC_B, { offloadsChecksum: opts.offloadB ?? false, lends: opts.lends });
  const a = new NetStack(devA, { ip: IP_A, clock, timers, ...opts.a });
  const b = new NetStack(devB, { ip: IP_B, clock, timers, ...opts.b });
  const cut = { a: false, b: false };
  const latency = opts.latencyMs ?? 0;
  const wire = (to: NetStack, dropped: () => boolean) => (f: SentFrame) => {
    if (dropped()) return;
    const bytes = f.bytes.slice();
    let flags = rxFlagsOf(f.flags);
    if (opts.completeChecksums && flags & RX_CSUM_BLANK) {
      completeUdpChecksum(bytes);
      flags = 0;
    }
    timers.after(latency, () => to.receive(bytes, 0, bytes.length, flags));
  };
  devA.onSend = wire(b, () => cut.a);
  devB.onSend = wire(a, () => cut.b);
  if (opts.up ?? true) {
    a.up();
    b.up();
    timers.advance(0);
  }
  return { a, b, devA, devB, timers, clock, cut };
}

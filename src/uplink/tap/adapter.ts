/**
 * A Linux tap device as a native netmap device (docs/porting.md), the way the VXLAN uplink
 * is one: the host's own kernel stack on a switch port, as `vale-ctl -h` puts a NIC's host
 * stack on one. Node cannot call TUNSETIFF, so a launcher (scripts/pvnet-tap) opens the
 * device (IFF_TAP | IFF_NO_PI) and hands pvnet the file descriptor; each read(2) of it is
 * one Ethernet frame, each write(2) one frame.
 *
 * txsync writes each frame in [hwcur, rhead) to the device, straight from its slot's buffer
 * (a chain of NS_MOREFRAG slots is gathered first); a tap never makes a writer wait, so
 * every slot completes in the same sync. The NIC's DMA is the event loop's read of the
 * descriptor (a libuv stream over the fd, reading into one fixed buffer: nothing allocated
 * per frame), each frame copied onto the RX ring by `rxFill`.
 */
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import type { Counters } from "../../base/counters.js";
import type { KRing } from "../../netmap/kring.js";
import { NETMAP_BUF_RESERVED, NETMAP_MAX_FRAGS, NS_MOREFRAG, ringSlot } from "../../netmap/layout.js";
import { ETH_HLEN } from "../../wire/net/ethernet.js";
import { UPLINK_COUNTERS, type UplinkCounter, uplinkCounters } from "../counters.js";
import { NicAdapter, RX_FILLED, RX_FULL } from "../nic-adapter.js";

/** Largest frame a tap read can hand us (no IFF_VNET_HDR: at most the device MTU + header). */
const READ_MAX = 65536;

const C = (n: UplinkCounter): number => UPLINK_COUNTERS.indexOf(n);
const RX_PKTS = C("rx_packets");
const RX_BYTES = C("rx_bytes");
const RX_ERRORS = C("rx_errors");
const RX_DROPPED = C("rx_dropped");
const RX_LENGTH = C("rx_length_errors");
const RX_MISSED = C("rx_missed_errors");
const MULTICAST = C("multicast");
const TX_PKTS = C("tx_packets");
const TX_BYTES = C("tx_bytes");
const TX_ERRORS = C("tx_errors");

/** The binding behind Node's pipes: a libuv stream over any pollable descriptor. */
interface PipeHandle {
  open(fd: number): number;
}
type PipeWrap = { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } };

/** A descriptor as a readable stream polled by the event loop; throws when it cannot be. */
function pollableHandle(fd: number): PipeHandle {
  // net.Socket refuses a character device's fd (it guesses "FILE"); the pipe binding takes
  // any fd epoll can watch, and a tun/tap fd is one.
  const { Pipe, constants } = (process as unknown as { binding(n: string): PipeWrap }).binding("pipe_wrap");
  const h = new Pipe(constants.SOCKET);
  const err = h.open(fd);
  if (err !== 0) throw new Error(`fd ${fd} cannot be polled (libuv error ${err})`);
  return h;
}

export interface TapAdapterOptions {
  /** The device's name (the switch port is `<switch>:<name>`). */
  readonly name: string;
  /** The tap's open descriptor. */
  readonly fd: number;
  readonly slots?: number;
  /** The counters' shared memory (UPLINK_COUNTERS_BYTES); a fresh buffer when absent. */
  readonly counters?: SharedArrayBuffer;
  readonly log?: (line: string) => void;
}

export class TapAdapter extends NicAdapter {
  readonly fd: number;
  readonly counters: Counters<UplinkCounter>;
  readonly #rxBuf: Buffer = Buffer.allocUnsafeSlow(READ_MAX);
  /** A NS_MOREFRAG chain made contiguous for its one write. */
  readonly #gather: Buffer = Buffer.allocUnsafeSlow(READ_MAX);
  readonly #log: (line: string) => void;
  #socket: Socket | null;
  #closed = false;

  /** Starts reading `o.fd`; throws when the descriptor cannot be polled. */
  constructor(o: TapAdapterOptions) {
    super(o.name, o.slots ?? 1024);
    this.fd = o.fd;
    this.counters = uplinkCounters(o.counters);
    this.#log = o.log ?? (() => {});
    this.#socket = new Socket({
      handle: pollableHandle(o.fd),
      readable: true,
      writable: false,
      onread: { buffer: this.#rxBuf, callback: (n: number) => this.#onFrame(n) },
    } as ConstructorParameters<typeof Socket>[0]);
    this.#socket.on("error", (e: Error) => {
      this.counters.add("rx_errors");
      this.#log(`${o.name}: reading the tap: ${e.message}; the port stops`);
      this.close();
    });
  }

  /** One frame read from the kernel, in the read buffer: onto the RX ring, or counted. */
  #onFrame(n: number): boolean {
    if (this.#closed) return false;
    const c = this.counters.f64;
    if (n < ETH_HLEN) {
      c[RX_LENGTH]++;
      c[RX_ERRORS]++;
      return true;
    }
    const r = this.rxFill(this.#rxBuf, 0, n);
    if (r === RX_FILLED) {
      c[RX_PKTS]++;
      c[RX_BYTES] += n;
      if ((this.#rxBuf[0] & 1) !== 0) c[MULTICAST]++;
    } else if (r === RX_FULL) c[RX_MISSED]++;
    else c[RX_DROPPED]++;
    return true;
  }

  txsync(k: KRing): void {
    const region = this.region;
    const m = region.mem;
    const u32 = m.u32;
    const bufSize = region.bufSize;
    const nBufs = region.nBufs;
    const c = this.counters.f64;
    const n = k.numSlots;
    const head = k.rhead;
    const g = this.#gather;
    let i = k.hwcur;
    while (i !== head) {
      // A frame is one slot or a chain marked NS_MOREFRAG; each slot's words are read once,
      // checked, and only then used.
      let total = 0;
      let bad = false;
      let first = -1;
      let frags = 1;
      for (; ; frags++) {
        const w = ringSlot(k.r, i) >>> 2;
        const buf = u32[w];
        const lenFlags = u32[w + 1];
        const len = lenFlags & 0xffff;
        i = i + 1 === n ? 0 : i + 1;
        if (buf < NETMAP_BUF_RESERVED || buf >= nBufs || len > bufSize || total + len > READ_MAX) bad = true;
        else if (!bad) {
          if (frags === 1) first = region.bufOff(buf);
          else {
            if (frags === 2) g.set(m.u8.subarray(first, first + total), 0);
            g.set(m.u8.subarray(region.bufOff(buf), region.bufOff(buf) + len), total);
          }
        }
        total += len;
        if (((lenFlags >>> 16) & NS_MOREFRAG) === 0) break;
        if (i === head || frags === NETMAP_MAX_FRAGS) {
          bad = true;
          break;
        }
      }
      if (bad || total < ETH_HLEN) {
        c[TX_ERRORS]++;
        continue;
      }
      try {
        if (frags === 1) writeSync(this.fd, m.u8, first, total);
        else writeSync(this.fd, g, 0, total);
        c[TX_PKTS]++;
        c[TX_BYTES] += total;
      } catch (e) {
        // A tap that is down refuses writes (EIO): counted, and said once.
        if (c[TX_ERRORS] === 0)
          this.#log(`${this.name}: writing to the tap: ${(e as Error).message} (counted in tx_errors)`);
        c[TX_ERRORS]++;
      }
    }
    k.hwcur = i;
    // Every slot before hwcur was written out: all of them are the user's again.
    k.hwtail = i === 0 ? n - 1 : i - 1;
  }

  /** Stops reading; the descriptor is closed with the stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.destroy();
    this.#socket = null;
  }
}

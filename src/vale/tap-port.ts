/**
 * A Linux tap device on a VALE switch: the host's own kernel stack on a switch port, as
 * `vale-ctl -h` puts a NIC's host stack on one. Node cannot call TUNSETIFF, so a launcher
 * (scripts/pvnet-tap) opens the device (IFF_TAP | IFF_NO_PI) and hands pvnet the file
 * descriptor; each read(2) of it is one Ethernet frame, each write(2) one frame.
 *
 * Like netback's vif, the port moves frames itself rather than through netmap rings:
 * - RX (kernel to switch): the descriptor is polled by the event loop (a libuv stream over
 *   the fd, reading into one fixed buffer: nothing allocated per frame); each frame is
 *   forwarded by reference at once, and the switch's receivers are kicked once per turn.
 * - TX (switch to kernel): `deliverFrags` copies the frame into a byte-bounded staging
 *   buffer (full: dropped and counted, the switch never waits), and `rxIrq` (once per
 *   switch batch) writes the staged frames, one write(2) each. A frame the kernel would
 *   not take whole is finished here first: a TCP superframe (GSO) is cut into MSS-sized
 *   segments, a blank checksum is filled.
 */
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import { Counters } from "../base/counters.js";
import { fillL4Checksum } from "../netback/csum.js";
import { GSO_MAX_FRAME, gsoSegment } from "../netback/gso-segment.js";
import type { KRing } from "../netmap/kring.js";
import { NETMAP_BUF_RESERVED } from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { VALE_F_CSUM_BLANK, ValeFrags } from "./frags.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "./switch.js";

/** The tap's own counters beside the switch port's. */
export const TAP_COUNTERS = ["writeErrors", "stagingDrops", "gsoDrops", "readErrors"] as const;
export type TapCounter = (typeof TAP_COUNTERS)[number];

/** Largest frame a tap read can hand us (no IFF_VNET_HDR: at most the device MTU + header). */
const READ_MAX = 65536;
/** Frames staged between switch batches, by bytes. */
const STAGE_BYTES = 2 << 20;
const STAGE_FRAMES = 2048;
const ETH_MIN = 14;

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

export class TapPort implements ValeAttachment {
  readonly name: string;
  readonly fd: number;
  readonly counters: Counters<PortCounter> = portCounters();
  readonly tapCounters = new Counters(TAP_COUNTERS);
  readonly #sw: ValeSwitch;
  readonly #index: number;
  #region: NetmapRegion | null = null;
  readonly #rxMem: Mem = privateMem(READ_MAX);
  readonly #rxFrags: ValeFrags;
  #socket: Socket | null = null;
  #kickScheduled = false;
  /** Frames waiting for write(2): bytes back to back, lengths beside. */
  readonly #stage: Mem = privateMem(STAGE_BYTES);
  readonly #stageLens = new Uint32Array(STAGE_FRAMES);
  #stageN = 0;
  #stageBytes = 0;
  /** A GSO frame made contiguous, and its segments. */
  #gsoIn: Mem | null = null;
  #gsoOut: Mem | null = null;
  readonly #segLens = new Uint32Array(64);
  #closed = false;
  readonly #log: (line: string) => void;

  /** Attaches the tap open on `fd` to `sw` as port `name`; throws when it cannot. */
  constructor(sw: ValeSwitch, name: string, fd: number, log: (line: string) => void = () => {}) {
    this.name = name;
    this.fd = fd;
    this.#sw = sw;
    this.#log = log;
    this.#rxFrags = new ValeFrags(this.#rxMem);
    const handle = pollableHandle(fd);
    const i = sw.attach(this);
    if (i < 0) throw new RangeError(`${sw.name}: no free port for ${name}`);
    this.#index = i;
    this.#socket = new Socket({
      handle,
      readable: true,
      writable: false,
      onread: { buffer: this.#rxMem.u8, callback: (n: number) => this.#onFrame(n) },
    } as ConstructorParameters<typeof Socket>[0]);
    this.#socket.on("error", (e: Error) => {
      this.tapCounters.add("readErrors");
      this.#log(`${name}: reading the tap: ${e.message}; the port stops`);
      this.close();
    });
  }

  get index(): number {
    return this.#index;
  }

  /** One frame read from the kernel, in the RX buffer: forwarded by reference at once. */
  #onFrame(n: number): boolean {
    if (this.#closed) return false;
    if (n < ETH_MIN) {
      this.counters.add("txErrors");
      return true;
    }
    const f = this.#rxFrags;
    f.clear();
    f.push(this.#rxMem, 0, n);
    this.#sw.forwardFrags(this.#index, f);
    if (!this.#kickScheduled) {
      this.#kickScheduled = true;
      setImmediate(() => {
        this.#kickScheduled = false;
        this.#sw.flush();
      });
    }
    return true;
  }

  /** The netmap view's memory: a tap port has no rings, so it is the smallest there is. */
  get region(): NetmapRegion {
    this.#region ??= new NetmapRegion(0x7a90000 + this.#index, {
      ifBytes: 1024,
      ringBytes: 0,
      nBufs: NETMAP_BUF_RESERVED,
    });
    return this.#region;
  }

  rxKring(): KRing | null {
    return null;
  }

  /** A frame for the kernel: staged (copied) until the switch's batch ends. */
  deliverFrags(f: ValeFrags): boolean {
    if (this.#closed) return false;
    if (f.gsoType !== 0 && f.gsoSize > 0) return this.#stageSegments(f);
    const len = f.total;
    if (len > READ_MAX || !this.#room(len)) {
      this.tapCounters.add("stagingDrops");
      return false;
    }
    const at = this.#stageBytes;
    f.copyOut(0, this.#stage, at, len);
    if ((f.flags & VALE_F_CSUM_BLANK) !== 0) fillL4Checksum(this.#stage.u8, at, len);
    this.#push(len);
    return true;
  }

  #room(len: number): boolean {
    return this.#stageN < STAGE_FRAMES && this.#stageBytes + len <= STAGE_BYTES;
  }

  #push(len: number): void {
    this.#stageLens[this.#stageN++] = len;
    this.#stageBytes += len;
  }

  /** A TCP superframe, cut as Linux's GSO would before a device without TSO. */
  #stageSegments(f: ValeFrags): boolean {
    const len = f.total;
    if (len > GSO_MAX_FRAME) {
      this.tapCounters.add("gsoDrops");
      return false;
    }
    const src = (this.#gsoIn ??= privateMem(GSO_MAX_FRAME));
    const out = (this.#gsoOut ??= privateMem(2 * GSO_MAX_FRAME));
    f.copyOut(0, src, 0, len);
    const n = gsoSegment(src.u8, 0, len, f.gsoType, f.gsoSize, out.u8, 0, this.#segLens);
    if (n <= 0) {
      this.tapCounters.add("gsoDrops");
      return false;
    }
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += this.#segLens[i]!;
    if (this.#stageN + n > STAGE_FRAMES || this.#stageBytes + bytes > STAGE_BYTES) {
      this.tapCounters.add("stagingDrops");
      return false;
    }
    this.#stage.u8.set(out.u8.subarray(0, bytes), this.#stageBytes);
    for (let i = 0; i < n; i++) this.#push(this.#segLens[i]!);
    return true;
  }

  /** The switch's batch ended: the staged frames go to the kernel, one write each. */
  rxIrq(): void {
    const n = this.#stageN;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const len = this.#stageLens[i]!;
      try {
        writeSync(this.fd, this.#stage.u8, at, len);
      } catch (e) {
        // A tap that is down refuses writes (EIO): counted, and said once.
        if (this.tapCounters.get("writeErrors") === 0)
          this.#log(`${this.name}: writing to the tap: ${(e as Error).message} (counted in writeErrors)`);
        this.tapCounters.add("writeErrors");
      }
      at += len;
    }
    this.#stageN = 0;
    this.#stageBytes = 0;
  }

  /** Leaves the switch and stops reading; the descriptor is closed with the stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sw.detach(this.#index);
    this.#socket?.destroy();
    this.#socket = null;
  }
}

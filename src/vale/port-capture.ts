/**
 * A capture of one switch port, or of a whole switch, streamed in batches to whoever asked
 * (`pvnet capture` through the host's control socket): the tap, its filter, the pcap or
 * pcapng bytes and the flow control. One port: frames entering the switch from it are
 * inbound, frames the switch sends to it (to it alone or flooded) outbound, as tcpdump on
 * Domain-0's vifN.M sees them; pcapng says so per packet (epb_flags). A whole switch: every
 * frame once, on the interface of the port it came from.
 *
 * The datapath never waits for the reader: frames are copied into a bounded staging
 * buffer, and once per event-loop turn the staged bytes go out as one chunk, if the reader
 * has credit (it returns a credit per chunk it has written on). Without credit the staging
 * buffer fills, and frames that do not fit are dropped from the capture and counted, never
 * from the switch. The tap is on the switch only while the capture runs.
 */
import { type Mem, privateMem } from "../wire/mem.js";
import { PCAP_MAX_SNAPLEN, PcapWriter } from "../wire/pcap.js";
import { EPB_DIR_INBOUND, EPB_DIR_OUTBOUND, PcapngWriter } from "../wire/pcapng.js";
import { captureIfName } from "./capture.js";
import { FILTER_HEADER_BYTES, type FilterTerm, FrameFilter } from "./capture-filter.js";
import type { ValeFrags } from "./frags.js";
import { NM_BDG_BROADCAST, NM_BDG_MAXPORTS, type ValeSwitch, type ValeTap } from "./switch.js";

export interface PortCaptureStats {
  /** Frames written to the stream. */
  readonly captured: number;
  /** Frames that matched but found no room (the reader was behind). */
  readonly dropped: number;
}

export interface PortCaptureOptions {
  readonly format: "pcap" | "pcapng";
  /** The port's index on `sw`; -1: the whole switch. */
  readonly port: number;
  /** Stop after this many frames; undefined: until stopped. */
  readonly count?: number;
  readonly filter?: readonly FilterTerm[];
  /** Staging buffer; default 512 KiB. */
  readonly bufferBytes?: number;
  /** Chunks the reader may have unanswered (ack); default 4. */
  readonly credits?: number;
  /** A chunk of the file, in order; `frames` in it. The first holds the file's header. */
  readonly emit: (chunk: Uint8Array, frames: number) => void;
  /** Called once when the capture has ended, after its last chunk. */
  readonly end: (stats: PortCaptureStats, reason: string) => void;
}

const DEFAULT_BUFFER = 512 << 10;
const DEFAULT_CREDITS = 4;

export class PortCapture implements ValeTap {
  readonly #sw: ValeSwitch;
  readonly #port: number;
  readonly #portName: string | undefined;
  readonly #o: PortCaptureOptions;
  readonly #stage: Mem;
  readonly #pcap: PcapWriter | null;
  readonly #ng: PcapngWriter | null;
  /** pcapng interface id per port index (whole-switch captures); -1: not declared. */
  readonly #ifIds: Int32Array | null;
  readonly #filter: FrameFilter;
  /** Headers of a frame whose first fragment is too short for the filter, made contiguous. */
  readonly #head = privateMem(FILTER_HEADER_BYTES);
  /** A multi-fragment frame made contiguous for the writers (allocated at the first). */
  #flat: Mem | null = null;
  readonly #limit: number;
  #credits: number;
  #captured = 0;
  #dropped = 0;
  #staged = 0;
  #scheduled = false;
  #ended = false;

  constructor(sw: ValeSwitch, o: PortCaptureOptions) {
    this.#sw = sw;
    this.#port = o.port;
    this.#portName = o.port < 0 ? undefined : sw.portName(o.port);
    this.#o = o;
    this.#limit = o.count ?? Number.POSITIVE_INFINITY;
    this.#credits = o.credits ?? DEFAULT_CREDITS;
    this.#filter = new FrameFilter(o.filter ?? []);
    this.#stage = privateMem(o.bufferBytes ?? DEFAULT_BUFFER);
    if (o.format === "pcapng") {
      this.#pcap = null;
      this.#ng = new PcapngWriter(this.#stage);
      this.#ng.writeShb("pvnet");
      if (o.port >= 0) {
        this.#ng.writeIdb({ name: captureIfName(sw, o.port), snaplen: PCAP_MAX_SNAPLEN });
        this.#ifIds = null;
      } else this.#ifIds = new Int32Array(NM_BDG_MAXPORTS).fill(-1);
    } else {
      this.#ng = null;
      this.#ifIds = null;
      this.#pcap = new PcapWriter(this.#stage, { snaplen: PCAP_MAX_SNAPLEN });
    }
  }

  /** Taps the switch; the file's header goes out at once. */
  start(): this {
    this.#sw.addTap(this);
    this.#schedule();
    return this;
  }

  get stats(): PortCaptureStats {
    return { captured: this.#captured, dropped: this.#dropped };
  }

  /** The reader has written a chunk on: one more may go. */
  ack(): void {
    this.#credits++;
    if (this.#bytes() > 0) this.#schedule();
  }

  portChanged(index: number): void {
    if (this.#ifIds !== null) this.#ifIds[index] = -1;
    else if (index === this.#port && this.#sw.portName(index) !== this.#portName)
      // Not from inside attach/detach: the switch is mid-change.
      setImmediate(() => this.stop(`${this.#portName} left ${this.#sw.name}`));
  }

  frame(src: number, f: ValeFrags, dst: number): void {
    let dir = EPB_DIR_INBOUND;
    const port = this.#port;
    if (port >= 0 && src !== port) {
      if (dst !== port && dst !== NM_BDG_BROADCAST) return;
      dir = EPB_DIR_OUTBOUND;
    }
    // The switch may hold this tap for the rest of a batch after removeTap: the count is ours to keep.
    if (this.#ended || this.#captured >= this.#limit) return;
    const total = f.total;
    let mem = f.mem[0]!;
    let off = f.off[0]!;
    if (!this.#filter.empty) {
      const want = Math.min(total, FILTER_HEADER_BYTES);
      let hm = mem;
      let ho = off;
      if (f.len[0]! < want) {
        f.copyOut(0, this.#head, 0, want);
        hm = this.#head;
        ho = 0;
      }
      if (!this.#filter.match(hm, ho, want)) return;
    }
    const len = Math.min(total, PCAP_MAX_SNAPLEN);
    if (f.n !== 1) {
      const flat = (this.#flat ??= privateMem(PCAP_MAX_SNAPLEN));
      f.copyOut(0, flat, 0, len);
      mem = flat;
      off = 0;
    }
    // Wall-clock microseconds, as tcpdump stamps.
    const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const sec = Math.floor(us / 1e6);
    const frac = us - sec * 1e6;
    let ok: boolean;
    const ng = this.#ng;
    if (ng !== null) {
      let id = 0;
      const ids = this.#ifIds;
      if (ids !== null) {
        id = ids[src]!;
        if (id < 0) {
          id = ng.writeIdb({ name: captureIfName(this.#sw, src), snaplen: PCAP_MAX_SNAPLEN });
          ids[src] = id;
        }
      }
      ok = id >= 0 && ng.writeEpb(id, sec, frac, mem, off, len, dir);
    } else ok = this.#pcap!.writePacket(sec, frac, mem, off, total);
    if (!ok) {
      this.#dropped++;
      return;
    }
    this.#captured++;
    this.#staged++;
    this.#schedule();
    if (this.#captured >= this.#limit) {
      this.#sw.removeTap(this);
      setImmediate(() => this.stop(`${this.#limit} packets`));
    }
  }

  #bytes(): number {
    return this.#ng?.length ?? this.#pcap!.length;
  }

  #schedule(): void {
    if (this.#scheduled || this.#ended) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#credits > 0 && !this.#ended) this.#flush();
    });
  }

  /** Sends the staged bytes as one chunk (one copy per batch). */
  #flush(): void {
    const len = this.#bytes();
    if (len === 0) return;
    const chunk = this.#stage.u8.slice(0, len);
    const frames = this.#staged;
    this.#pcap?.clear();
    this.#ng?.clear();
    this.#staged = 0;
    this.#credits--;
    this.#o.emit(chunk, frames);
  }

  /** Ends the capture (once): the tap goes, what is staged goes out, then `end`. */
  stop(reason: string): void {
    if (this.#ended) return;
    this.#sw.removeTap(this);
    this.#flush();
    this.#ended = true;
    this.#o.end(this.stats, reason);
  }
}

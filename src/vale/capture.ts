/**
 * A bridge's capture (`bridges.<name>.capture`): a switch tap that records every frame the
 * switch forwards, as it enters from its port, into a pcap or pcapng file (one interface
 * per port, named as the port, declared when the port first sends).
 *
 * The datapath never waits on the disk: a frame is copied into a bounded staging buffer
 * (no allocation per frame), and once per event-loop turn the staged bytes are handed to
 * one asynchronous write. While a write is in flight frames keep collecting; when the
 * staging buffer is full, frames are dropped from the capture (never from the switch) and
 * counted. `close` writes what is staged and closes the file.
 */
import { type FileHandle, open } from "node:fs/promises";
import { PvnetError } from "../base/errors.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { PCAP_MAX_SNAPLEN, PcapWriter } from "../wire/pcap.js";
import { IF_TSRESOL_DEFAULT, PcapngWriter } from "../wire/pcapng.js";
import type { ValeFrags } from "./frags.js";
import { NM_BDG_MAXPORTS, type ValeSwitch, type ValeTap } from "./switch.js";

export type CaptureFormat = "pcap" | "pcapng";

/** A port's pcapng interface name: a device's without the `<bridge>:` its port carries. */
export function captureIfName(sw: ValeSwitch, index: number): string {
  const name = sw.portName(index) ?? `port${index}`;
  const prefix = `${sw.name}:`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

export interface CaptureOptions {
  readonly file: string;
  readonly format: CaptureFormat;
  /** Stop recording after this many frames; undefined: until close. */
  readonly count?: number;
  /** Staging buffer size; default 1 MiB. At most twice this is held (staged plus in flight). */
  readonly bufferBytes?: number;
  /** Where a write error is told (once). */
  readonly log?: (line: string) => void;
}

export interface CaptureStats {
  readonly frames: number;
  readonly drops: number;
  readonly bytes: number;
}

const DEFAULT_BUFFER = 1 << 20;

export class ValeCapture implements ValeTap {
  readonly file: string;
  /** The switch's name. */
  readonly bridge: string;
  readonly #sw: ValeSwitch;
  readonly #fh: FileHandle;
  readonly #stage: Mem;
  readonly #pcap: PcapWriter | null;
  readonly #ng: PcapngWriter | null;
  /** pcapng interface id per port index; -1: not declared since the port attached. */
  readonly #ifIds = new Int32Array(NM_BDG_MAXPORTS).fill(-1);
  /** A multi-fragment frame made contiguous for the writers (allocated at the first). */
  #flat: Mem | null = null;
  readonly #limit: number;
  readonly #log: (line: string) => void;
  #frames = 0;
  #drops = 0;
  #bytes = 0;
  #scheduled = false;
  #writing: Promise<void> | null = null;
  #failed = false;
  #closed = false;
  #closing: Promise<CaptureStats> | null = null;

  private constructor(sw: ValeSwitch, fh: FileHandle, o: CaptureOptions) {
    this.#sw = sw;
    this.#fh = fh;
    this.file = o.file;
    this.bridge = sw.name;
    this.#limit = o.count ?? Number.POSITIVE_INFINITY;
    this.#log = o.log ?? (() => {});
    this.#stage = privateMem(o.bufferBytes ?? DEFAULT_BUFFER);
    if (o.format === "pcapng") {
      this.#pcap = null;
      this.#ng = new PcapngWriter(this.#stage);
      this.#ng.writeShb("pvnet");
    } else {
      this.#ng = null;
      this.#pcap = new PcapWriter(this.#stage, { snaplen: PCAP_MAX_SNAPLEN });
    }
  }

  /** Creates (or truncates) the file, writes its header, and taps `sw`. */
  static async open(sw: ValeSwitch, o: CaptureOptions): Promise<ValeCapture> {
    let fh: FileHandle;
    try {
      fh = await open(o.file, "w");
    } catch (e) {
      throw new PvnetError("EIO", `capture ${sw.name}: cannot open ${o.file}: ${(e as Error).message}`);
    }
    const c = new ValeCapture(sw, fh, o);
    sw.addTap(c);
    c.#schedule();
    return c;
  }

  get stats(): CaptureStats {
    return { frames: this.#frames, drops: this.#drops, bytes: this.#bytes };
  }

  portChanged(index: number): void {
    this.#ifIds[index] = -1;
  }

  frame(src: number, f: ValeFrags, _dst?: number): void {
    if (this.#frames >= this.#limit || this.#closed) return;
    if (this.#failed) {
      this.#drops++;
      return;
    }
    let mem = f.mem[0];
    let off = f.off[0];
    const len = f.total;
    if (f.n !== 1) {
      const flat = (this.#flat ??= privateMem(PCAP_MAX_SNAPLEN));
      f.copyOut(0, flat, 0, Math.min(len, PCAP_MAX_SNAPLEN));
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
      let id = this.#ifIds[src];
      if (id < 0) {
        id = ng.writeIdb({
          name: captureIfName(this.#sw, src),
          snaplen: PCAP_MAX_SNAPLEN,
          tsresol: IF_TSRESOL_DEFAULT,
        });
        this.#ifIds[src] = id;
      }
      ok = id >= 0 && ng.writeEpb(id, sec, frac, mem, off, Math.min(len, PCAP_MAX_SNAPLEN));
    } else ok = this.#pcap!.writePacket(sec, frac, mem, off, len);
    if (!ok) {
      // Told once, when the first frame is lost; the total comes with close's stats.
      if (this.#drops++ === 0)
        this.#log(`capture ${this.#sw.name}: the disk is behind, frames dropped from the capture (counted)`);
      return;
    }
    this.#frames++;
    if (this.#frames >= this.#limit) this.#sw.removeTap(this);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing !== null || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#startWrite();
    });
  }

  /** Hands the staged bytes to one write; when it ends, the next batch follows. */
  #startWrite(): void {
    if (this.#writing !== null || this.#closed) return;
    const chunk = this.#take();
    if (chunk === null) return;
    this.#writing = this.#write(chunk).finally(() => {
      this.#writing = null;
      if (this.#staged() > 0) this.#schedule();
    });
  }

  /** The staged bytes, copied out (one copy per batch), the staging buffer emptied. */
  #take(): Buffer | null {
    const len = this.#staged();
    if (len === 0) return null;
    const chunk = Buffer.from(this.#stage.u8.subarray(0, len));
    this.#pcap?.clear();
    this.#ng?.clear();
    return chunk;
  }

  async #write(chunk: Buffer): Promise<void> {
    if (this.#failed) return;
    try {
      for (let at = 0; at < chunk.length; ) {
        const { bytesWritten } = await this.#fh.write(chunk, at, chunk.length - at);
        at += bytesWritten;
      }
      this.#bytes += chunk.length;
    } catch (e) {
      this.#failed = true;
      this.#sw.removeTap(this);
      this.#log(`capture ${this.#sw.name}: writing ${this.file}: ${(e as Error).message}; capture stopped`);
    }
  }

  #staged(): number {
    return this.#ng?.length ?? this.#pcap!.length;
  }

  /** Stops the tap, writes what is staged, and closes the file (once; later calls wait for it). */
  close(): Promise<CaptureStats> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<CaptureStats> {
    this.#sw.removeTap(this);
    this.#closed = true;
    while (this.#writing !== null) await this.#writing;
    const chunk = this.#take();
    if (chunk !== null) await this.#write(chunk);
    await this.#fh.close();
    return this.stats;
  }
}

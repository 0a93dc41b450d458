/**
 * Classic libpcap savefile format (pcap-savefile(5), draft-ietf-opsawg-pcap): one file
 * header, then records of a header and the captured bytes. All fields are in the
 * writer's byte order, which the reader learns from the magic.
 *
 *   file header (24 bytes)                 record header (16 bytes)
 *    0  u32 magic        0xa1b2c3d4 (µs)    0  u32 ts_sec
 *                        0xa1b23c4d (ns)    4  u32 ts_usec (ts_nsec with the ns magic)
 *    4  u16 version_major = 2               8  u32 incl_len   bytes that follow
 *    6  u16 version_minor = 4              12  u32 orig_len   length on the wire
 *    8  i32 thiszone = 0                   16  incl_len bytes of packet data
 *   12  u32 sigfigs = 0
 *   16  u32 snaplen
 *   20  u32 linktype     LINKTYPE_ETHERNET = 1
 *
 * PcapWriter appends to a caller's buffer without allocating per record and always writes
 * little-endian; the reader takes either byte order and either magic.
 */

import { assert } from "../base/assert.js";
import { checkLayout, isParseError, type ParseError, parseError } from "./layout.js";
import type { Mem } from "./mem.js";

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const LINKTYPE_ETHERNET = 1;
/** Default snapshot length of tcpdump and Wireshark; also the reader's record size cap. */
export const PCAP_MAX_SNAPLEN = 262144;

export const PCAP_HDR_LEN = 24;
export const PCAP_REC_HDR_LEN = 16;

checkLayout("pcap_file_header", PCAP_HDR_LEN, {
  magic: [0, 4],
  version_major: [4, 2],
  version_minor: [6, 2],
  thiszone: [8, 4],
  sigfigs: [12, 4],
  snaplen: [16, 4],
  linktype: [20, 4],
});
checkLayout("pcap_pkthdr", PCAP_REC_HDR_LEN, {
  ts_sec: [0, 4],
  ts_usec: [4, 4],
  incl_len: [8, 4],
  orig_len: [12, 4],
});

export interface PcapHeaderRepr {
  /** Nanosecond timestamps (magic 0xa1b23c4d) rather than microseconds. */
  nanos: boolean;
  bigEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  thiszone: number;
  sigfigs: number;
  snaplen: number;
  linktype: number;
}

export interface PcapRecordRepr {
  tsSec: number;
  /** Microseconds or nanoseconds, per the file header's magic. */
  tsFrac: number;
  origLen: number;
  /** The incl_len captured bytes; parse returns a view into its input. */
  data: Uint8Array;
}

export interface PcapFile {
  header: PcapHeaderRepr;
  records: PcapRecordRepr[];
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function parsePcapHeader(b: Uint8Array, at = 0): PcapHeaderRepr | ParseError {
  if (!(at >= 0 && at + PCAP_HDR_LEN <= b.length)) return parseError("pcap: file header truncated");
  const dv = viewOf(b);
  const le = dv.getUint32(at, true);
  const be = dv.getUint32(at, false);
  const bigEndian = be === PCAP_MAGIC_USEC || be === PCAP_MAGIC_NSEC;
  if (!bigEndian && le !== PCAP_MAGIC_USEC && le !== PCAP_MAGIC_NSEC) {
    return parseError(`pcap: bad magic 0x${be.toString(16).padStart(8, "0")}`);
  }
  const little = !bigEndian;
  const versionMajor = dv.getUint16(at + 4, little);
  if (versionMajor !== PCAP_VERSION_MAJOR) return parseError(`pcap: version ${versionMajor} is not 2`);
  return {
    nanos: (bigEndian ? be : le) === PCAP_MAGIC_NSEC,
    bigEndian,
    versionMajor,
    versionMinor: dv.getUint16(at + 6, little),
    thiszone: dv.getInt32(at + 8, little),
    sigfigs: dv.getUint32(at + 12, little),
    snaplen: dv.getUint32(at + 16, little),
    linktype: dv.getUint32(at + 20, little),
  };
}

export function emitPcapHeader(r: PcapHeaderRepr, b: Uint8Array, at = 0): void {
  const dv = viewOf(b);
  const little = !r.bigEndian;
  dv.setUint32(at, r.nanos ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, little);
  dv.setUint16(at + 4, r.versionMajor, little);
  dv.setUint16(at + 6, r.versionMinor, little);
  dv.setInt32(at + 8, r.thiszone, little);
  dv.setUint32(at + 12, r.sigfigs, little);
  dv.setUint32(at + 16, r.snaplen, little);
  dv.setUint32(at + 20, r.linktype, little);
}

/**
 * Parses the record at `at`. An incl_len past the end of `b` is truncation; one above
 * max(snaplen, PCAP_MAX_SNAPLEN) is garbage (a misread or corrupt length).
 */
export function parsePcapRecord(b: Uint8Array, at: number, h: PcapHeaderRepr): PcapRecordRepr | ParseError {
  if (!(at >= 0 && at + PCAP_REC_HDR_LEN <= b.length)) return parseError("pcap: record header truncated");
  const dv = viewOf(b);
  const little = !h.bigEndian;
  const inclLen = dv.getUint32(at + 8, little);
  if (inclLen > Math.max(h.snaplen, PCAP_MAX_SNAPLEN))
    return parseError(`pcap: incl_len ${inclLen} too large`);
  const start = at + PCAP_REC_HDR_LEN;
  if (start + inclLen > b.length) {
    return parseError(`pcap: record data truncated (incl_len ${inclLen}, ${b.length - start} bytes left)`);
  }
  return {
    tsSec: dv.getUint32(at, little),
    tsFrac: dv.getUint32(at + 4, little),
    origLen: dv.getUint32(at + 12, little),
    data: b.subarray(start, start + inclLen),
  };
}

export function pcapRecordReprLen(r: PcapRecordRepr): number {
  return PCAP_REC_HDR_LEN + r.data.length;
}

export function emitPcapRecord(r: PcapRecordRepr, b: Uint8Array, at = 0, bigEndian = false): void {
  const dv = viewOf(b);
  const little = !bigEndian;
  dv.setUint32(at, r.tsSec, little);
  dv.setUint32(at + 4, r.tsFrac, little);
  dv.setUint32(at + 8, r.data.length, little);
  dv.setUint32(at + 12, r.origLen, little);
  b.set(r.data, at + PCAP_REC_HDR_LEN);
}

/** Reads a whole file; any truncated or garbage record makes the result a ParseError. */
export function readPcap(b: Uint8Array): PcapFile | ParseError {
  const header = parsePcapHeader(b);
  if (isParseError(header)) return header;
  const records: PcapRecordRepr[] = [];
  // Each step consumes at least a 16-byte record header, so the loop ends.
  for (let at = PCAP_HDR_LEN; at < b.length; ) {
    const r = parsePcapRecord(b, at, header);
    if (isParseError(r)) return parseError(`${r.error} (record ${records.length} at byte ${at})`);
    records.push(r);
    at += pcapRecordReprLen(r);
  }
  return { header, records };
}

/**
 * Copies `len` bytes between non-overlapping ranges without allocating, for the pcap and
 * pcapng writers: word by word when both offsets are 4-aligned, else byte by byte. Not
 * copy.ts's copyBytes, which takes a short-lived subarray for the native copy of frames
 * over 32 bytes at unaligned offsets (every other EPB's data is at 4 mod 8); a capture tap
 * must not allocate per record. Cost measured here: 60 bytes ~24 ns (copyBytes ~27),
 * 1500 bytes ~300 ns (copyBytes ~43 ns with its view).
 */
export function copyFrameBytes(dst: Mem, dstOff: number, src: Mem, srcOff: number, len: number): void {
  let i = 0;
  if (((dstOff | srcOff) & 3) === 0) {
    const d = dst.u32;
    const s = src.u32;
    const di = dstOff >>> 2;
    const si = srcOff >>> 2;
    const words = len >>> 2;
    for (let k = 0; k < words; k++) d[di + k] = s[si + k];
    i = words << 2;
  }
  const d8 = dst.u8;
  const s8 = src.u8;
  for (; i < len; i++) d8[dstOff + i] = s8[srcOff + i];
}

export interface PcapWriterOptions {
  /** Default LINKTYPE_ETHERNET. */
  linktype?: number;
  /** Longer packets are cut to this many bytes; default PCAP_MAX_SNAPLEN. */
  snaplen?: number;
  /** Nanosecond timestamps; default microseconds. */
  nanos?: boolean;
}

/**
 * Appends pcap records to `out`, a caller's buffer, little-endian. The file header goes
 * first; after the caller has drained `out.u8.subarray(0, length)` to a file, `clear()`
 * starts over at 0 without repeating it.
 */
export class PcapWriter {
  readonly #out: Mem;
  readonly #snaplen: number;
  #pos: number;

  constructor(out: Mem, opts: PcapWriterOptions = {}) {
    assert(
      out.byteLength >= PCAP_HDR_LEN,
      `pcap: buffer of ${out.byteLength} bytes cannot hold the file header`,
    );
    this.#out = out;
    this.#snaplen = opts.snaplen ?? PCAP_MAX_SNAPLEN;
    const header: PcapHeaderRepr = {
      nanos: opts.nanos ?? false,
      bigEndian: false,
      versionMajor: PCAP_VERSION_MAJOR,
      versionMinor: PCAP_VERSION_MINOR,
      thiszone: 0,
      sigfigs: 0,
      snaplen: this.#snaplen,
      linktype: opts.linktype ?? LINKTYPE_ETHERNET,
    };
    emitPcapHeader(header, out.u8);
    this.#pos = PCAP_HDR_LEN;
  }

  /** Bytes written to `out` since construction or the last clear(). */
  get length(): number {
    return this.#pos;
  }

  clear(): void {
    this.#pos = 0;
  }

  /**
   * Appends the `len`-byte frame at `src` offset `off`, cut to snaplen. `tsFrac` is in
   * µs or ns per the options. Returns false, writing nothing, when `out` is full.
   */
  writePacket(tsSec: number, tsFrac: number, src: Mem, off: number, len: number): boolean {
    const incl = Math.min(len, this.#snaplen);
    const at = this.#pos;
    const out = this.#out;
    if (at + PCAP_REC_HDR_LEN + incl > out.byteLength) return false;
    out.dv.setUint32(at, tsSec, true);
    out.dv.setUint32(at + 4, tsFrac, true);
    out.dv.setUint32(at + 8, incl, true);
    out.dv.setUint32(at + 12, len, true);
    copyFrameBytes(out, at + PCAP_REC_HDR_LEN, src, off, incl);
    this.#pos = at + PCAP_REC_HDR_LEN + incl;
    return true;
  }
}

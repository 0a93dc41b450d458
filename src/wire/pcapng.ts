/**
 * pcapng (draft-ietf-opsawg-pcapng): a file is a sequence of blocks, each
 *
 *    0  u32 block type
 *    4  u32 block total length   (whole block, a multiple of 4, at least 12)
 *    8  body, padded to 32 bits
 *   -4  u32 block total length   (copy, so a reader can walk backwards)
 *
 * Section Header Block (0x0a0d0d0a): byte-order magic 0x1a2b3c4d, u16 major 1, u16 minor
 * 0, i64 section length (-1 = unknown), options. Its magic fixes the byte order of the
 * whole section. Interface Description Block (1): u16 linktype, u16 reserved, u32 snaplen,
 * options (if_name 2, if_tsresol 9). Enhanced Packet Block (6): u32 interface id, u32
 * timestamp high, u32 timestamp low, u32 captured length, u32 original length, data
 * padded to 32 bits, options (epb_flags 2: a u32 whose low two bits are the direction,
 * 1 inbound, 2 outbound). Options are u16 code, u16 length, value padded to 32 bits,
 * ending with opt_endofopt (0).
 *
 * Not supported: Simple Packet, Name Resolution, Interface Statistics and other blocks
 * (the reader skips them), EPB options other than epb_flags, if_tsoffset. Timestamps are counted in units of
 * if_tsresol (default 10^-6 s); resolutions finer than 2^-32 s are rejected.
 */

import { assert } from "../base/assert.js";
import { isParseError, type ParseError, parseError } from "./layout.js";
import type { Mem } from "./mem.js";
import { copyFrameBytes, LINKTYPE_ETHERNET } from "./pcap.js";

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_TSRESOL = 9;
export const EPB_FLAGS = 2;
/** epb_flags direction bits: received on the interface, sent from it. */
export const EPB_DIR_INBOUND = 1;
export const EPB_DIR_OUTBOUND = 2;
/** An EPB's epb_flags option and the opt_endofopt after it. */
const EPB_FLAGS_OPT_LEN = 12;
/** if_tsresol when the option is absent: 10^-6 s. */
export const IF_TSRESOL_DEFAULT = 6;

/** Fixed sizes of each block type, type, lengths and fixed body fields included. */
export const PCAPNG_SHB_MIN_LEN = 28;
export const PCAPNG_IDB_MIN_LEN = 20;
export const PCAPNG_EPB_MIN_LEN = 32;

const TWO16 = 0x1_0000;
const utf8 = new TextDecoder();
const TWO32 = 0x1_0000_0000;

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Timestamp units per second for an if_tsresol byte: 10^v, or 2^v with the top bit. */
export function tsresolUnits(tsresol: number): number {
  return tsresol & 0x80 ? 2 ** (tsresol & 0x7f) : 10 ** tsresol;
}

export interface PcapngInterface {
  linktype: number;
  snaplen: number;
  /** The if_tsresol byte (IF_TSRESOL_DEFAULT when absent). */
  tsresol: number;
  name?: string;
}

export interface PcapngPacket {
  /** Index into PcapngFile.interfaces (over all sections, not the per-section id). */
  interfaceIndex: number;
  tsSec: number;
  /** Fraction of a second in units of the interface's tsresol. */
  tsFrac: number;
  origLen: number;
  /** The captured bytes: a view into the input. */
  data: Uint8Array;
  /** epb_flags (direction in the low two bits); 0 when the block has none. */
  flags: number;
}

export interface PcapngFile {
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
}

/** Reader state for one walk over a file. */
interface Walk {
  b: Uint8Array;
  dv: DataView;
  le: boolean;
  /** Index in `file.interfaces` of the current section's interface 0; -1 before an SHB. */
  sectionBase: number;
  file: PcapngFile;
}

/**
 * Reads a whole file. Unknown block types are skipped; a bad or inconsistent block
 * length, a missing leading SHB, or an EPB naming an undeclared interface is a ParseError.
 */
export function readPcapng(b: Uint8Array): PcapngFile | ParseError {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const w: Walk = { b, dv, le: true, sectionBase: -1, file: { interfaces: [], packets: [] } };
  // Every block is at least 12 bytes long (checked in readBlock), so the loop ends.
  for (let at = 0; at < b.length; ) {
    const len = readBlock(w, at);
    if (isParseError(len)) return parseError(`pcapng: ${len.error} (block at byte ${at})`);
    at += len;
  }
  if (w.sectionBase < 0) return parseError("pcapng: empty file");
  return w.file;
}

/** Checks the framing of the block at `at`, dispatches on its type, returns its length. */
function readBlock(w: Walk, at: number): number | ParseError {
  if (at + 12 > w.b.length) return parseError("block header truncated");
  const type = w.dv.getUint32(at, w.le); // SHB's type reads the same in both orders
  if (type === PCAPNG_SHB) {
    const magic = w.dv.getUint32(at + 8, true);
    if (magic === PCAPNG_BYTE_ORDER_MAGIC) w.le = true;
    else if (w.dv.getUint32(at + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) w.le = false;
    else return parseError(`bad byte-order magic 0x${magic.toString(16)}`);
  } else if (w.sectionBase < 0) {
    return parseError("file does not start with a Section Header Block");
  }
  const len = w.dv.getUint32(at + 4, w.le);
  if (len < 12 || len % 4 !== 0) return parseError(`bad block length ${len}`);
  if (at + len > w.b.length) return parseError(`block length ${len} runs past the end`);
  if (w.dv.getUint32(at + len - 4, w.le) !== len) return parseError("trailing block length differs");
  let err: ParseError | undefined;
  if (type === PCAPNG_SHB) err = readShb(w, at, len);
  else if (type === PCAPNG_IDB) err = readIdb(w, at, len);
  else if (type === PCAPNG_EPB) err = readEpb(w, at, len);
  return err ?? len;
}

function readShb(w: Walk, at: number, len: number): ParseError | undefined {
  if (len < PCAPNG_SHB_MIN_LEN) return parseError(`section header length ${len} < ${PCAPNG_SHB_MIN_LEN}`);
  const major = w.dv.getUint16(at + 12, w.le);
  if (major !== 1) return parseError(`section version ${major} is not 1`);
  w.sectionBase = w.file.interfaces.length;
  return undefined;
}

function readIdb(w: Walk, at: number, len: number): ParseError | undefined {
  if (len < PCAPNG_IDB_MIN_LEN) return parseError(`interface block length ${len} < ${PCAPNG_IDB_MIN_LEN}`);
  const ifc: PcapngInterface = {
    linktype: w.dv.getUint16(at + 8, w.le),
    snaplen: w.dv.getUint32(at + 12, w.le),
    tsresol: IF_TSRESOL_DEFAULT,
  };
  const err = readOptions(w, at + 16, at + len - 4, (code, p, n) => {
    if (code === IF_TSRESOL && n >= 1) ifc.tsresol = w.b[p];
    else if (code === IF_NAME) ifc.name = utf8.decode(w.b.subarray(p, p + n));
  });
  if (err) return err;
  if (tsresolUnits(ifc.tsresol) > TWO32)
    return parseError(`if_tsresol 0x${ifc.tsresol.toString(16)} unsupported`);
  w.file.interfaces.push(ifc);
  return undefined;
}

/** Walks options in [p, end) until opt_endofopt or the end; an overlong option is an error. */
function readOptions(
  w: Walk,
  p: number,
  end: number,
  onOption: (code: number, valueAt: number, valueLen: number) => void,
): ParseError | undefined {
  while (p + 4 <= end) {
    const code = w.dv.getUint16(p, w.le);
    const n = w.dv.getUint16(p + 2, w.le);
    if (code === OPT_ENDOFOPT) return undefined;
    if (p + 4 + n > end) return parseError(`option ${code} of length ${n} runs past its block`);
    onOption(code, p + 4, n);
    p += 4 + pad4(n);
  }
  return undefined;
}

function readEpb(w: Walk, at: number, len: number): ParseError | undefined {
  if (len < PCAPNG_EPB_MIN_LEN) return parseError(`packet block length ${len} < ${PCAPNG_EPB_MIN_LEN}`);
  const id = w.dv.getUint32(at + 8, w.le);
  const index = w.sectionBase + id;
  if (index >= w.file.interfaces.length) return parseError(`packet names undeclared interface ${id}`);
  const capLen = w.dv.getUint32(at + 20, w.le);
  // The block length is a multiple of 4, so this also leaves room for the padding.
  if (capLen > len - PCAPNG_EPB_MIN_LEN) return parseError(`captured length ${capLen} exceeds block`);
  const units = tsresolUnits(w.file.interfaces[index].tsresol);
  let flags = 0;
  const err = readOptions(w, at + 28 + pad4(capLen), at + len - 4, (code, p, n) => {
    if (code === EPB_FLAGS && n === 4) flags = w.dv.getUint32(p, w.le);
  });
  if (err) return err;
  const hi = w.dv.getUint32(at + 12, w.le);
  const lo = w.dv.getUint32(at + 16, w.le);
  // hi:lo / units by long division in base 2^16, exact while units <= 2^32 (no BigInt).
  const x = (hi % units) * TWO16 + (lo >>> 16);
  const y = (x % units) * TWO16 + (lo & 0xffff);
  w.file.packets.push({
    interfaceIndex: index,
    tsSec: Math.floor(hi / units) * TWO32 + Math.floor(x / units) * TWO16 + Math.floor(y / units),
    tsFrac: y % units,
    origLen: w.dv.getUint32(at + 24, w.le),
    data: w.b.subarray(at + 28, at + 28 + capLen),
    flags,
  });
  return undefined;
}

export interface PcapngInterfaceOptions {
  /** Default LINKTYPE_ETHERNET. */
  linktype?: number;
  /** 0 = no limit (the default). */
  snaplen?: number;
  /** if_tsresol byte; default 6 (µs), 9 for ns. At most 2^32 units per second. */
  tsresol?: number;
  name?: string;
}

/**
 * Appends pcapng blocks to `out`, a caller's buffer, little-endian. Packet blocks are
 * written without allocating; `clear()` restarts at 0 once the caller has drained
 * `out.u8.subarray(0, length)`, and the section and interfaces stay declared.
 */
export class PcapngWriter {
  readonly #out: Mem;
  #pos = 0;
  /** Per interface id of the current section: units per second, snaplen (0 = none). */
  readonly #units: number[] = [];
  readonly #snaplens: number[] = [];

  constructor(out: Mem) {
    this.#out = out;
  }

  get length(): number {
    return this.#pos;
  }

  clear(): void {
    this.#pos = 0;
  }

  /** Starts a section (forgetting its interfaces); false when `out` is full. */
  writeShb(userappl?: string): boolean {
    const opts = userappl === undefined ? [] : [[SHB_USERAPPL, new TextEncoder().encode(userappl)] as const];
    const body = new Uint8Array(16);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, PCAPNG_BYTE_ORDER_MAGIC, true);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 0, true);
    dv.setInt32(8, -1, true);
    dv.setInt32(12, -1, true);
    if (!this.#writeBlock(PCAPNG_SHB, body, opts)) return false;
    this.#units.length = 0;
    this.#snaplens.length = 0;
    return true;
  }

  /** Declares an interface; returns its id, or -1 when `out` is full. */
  writeIdb(o: PcapngInterfaceOptions = {}): number {
    const tsresol = o.tsresol ?? IF_TSRESOL_DEFAULT;
    const units = tsresolUnits(tsresol);
    assert(units <= TWO32, `pcapng: if_tsresol 0x${tsresol.toString(16)} finer than 2^-32 s`);
    const body = new Uint8Array(8);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, o.linktype ?? LINKTYPE_ETHERNET, true);
    dv.setUint32(4, o.snaplen ?? 0, true);
    const opts: (readonly [number, Uint8Array])[] = [];
    if (o.name !== undefined) opts.push([IF_NAME, new TextEncoder().encode(o.name)]);
    if (o.tsresol !== undefined) opts.push([IF_TSRESOL, Uint8Array.of(tsresol)]);
    if (!this.#writeBlock(PCAPNG_IDB, body, opts)) return -1;
    this.#snaplens.push(o.snaplen ?? 0);
    return this.#units.push(units) - 1;
  }

  /** Control-plane blocks: body then options, options closed by opt_endofopt. */
  #writeBlock(type: number, body: Uint8Array, opts: readonly (readonly [number, Uint8Array])[]): boolean {
    let optLen = opts.length > 0 ? 4 : 0;
    for (const [, v] of opts) optLen += 4 + pad4(v.length);
    const len = 12 + body.length + optLen;
    const at = this.#pos;
    const out = this.#out;
    if (at + len > out.byteLength) return false;
    out.u8.fill(0, at, at + len);
    out.dv.setUint32(at, type, true);
    out.dv.setUint32(at + 4, len, true);
    out.u8.set(body, at + 8);
    let p = at + 8 + body.length;
    for (const [code, v] of opts) {
      out.dv.setUint16(p, code, true);
      out.dv.setUint16(p + 2, v.length, true);
      out.u8.set(v, p + 4);
      p += 4 + pad4(v.length);
    }
    out.dv.setUint32(at + len - 4, len, true);
    this.#pos = at + len;
    return true;
  }

  /**
   * Appends an EPB for the `len`-byte frame at `src` offset `off`, cut to the interface's
   * snaplen. `tsFrac` counts the interface's units (µs by default). `flags`, when not 0, is
   * written as the epb_flags option (EPB_DIR_* for the direction). False when full.
   */
  writeEpb(
    ifId: number,
    tsSec: number,
    tsFrac: number,
    src: Mem,
    off: number,
    len: number,
    flags = 0,
  ): boolean {
    // Not assert(cond, `...${ifId}`): the message would be built on every call.
    if (!(ifId < this.#units.length)) assert(false, `pcapng: interface ${ifId} not declared`);
    const snaplen = this.#snaplens[ifId];
    const cap = snaplen !== 0 && len > snaplen ? snaplen : len;
    const dataEnd = 28 + pad4(cap);
    const blockLen = PCAPNG_EPB_MIN_LEN + pad4(cap) + (flags === 0 ? 0 : EPB_FLAGS_OPT_LEN);
    const at = this.#pos;
    const out = this.#out;
    if (at + blockLen > out.byteLength) return false;
    const dv = out.dv;
    dv.setUint32(at, PCAPNG_EPB, true);
    dv.setUint32(at + 4, blockLen, true);
    dv.setUint32(at + 8, ifId, true);
    this.#setTimestamp(at + 12, tsSec, tsFrac, this.#units[ifId]);
    dv.setUint32(at + 20, cap, true);
    dv.setUint32(at + 24, len, true);
    copyFrameBytes(out, at + 28, src, off, cap);
    for (let i = at + 28 + cap; i < at + dataEnd; i++) out.u8[i] = 0;
    if (flags !== 0) {
      dv.setUint16(at + dataEnd, EPB_FLAGS, true);
      dv.setUint16(at + dataEnd + 2, 4, true);
      dv.setUint32(at + dataEnd + 4, flags >>> 0, true);
      dv.setUint32(at + dataEnd + 8, OPT_ENDOFOPT, true);
    }
    dv.setUint32(at + blockLen - 4, blockLen, true);
    this.#pos = at + blockLen;
    return true;
  }

  /** Writes tsSec * units + tsFrac as high and low u32 words, exactly, without BigInt. */
  #setTimestamp(at: number, tsSec: number, tsFrac: number, units: number): void {
    const p1 = (tsSec % TWO16) * units; // < 2^48
    const p2 = Math.floor(tsSec / TWO16) * units; // < 2^48
    const low = (p2 % TWO16) * TWO16 + p1 + tsFrac; // < 2^50, exact
    this.#out.dv.setUint32(at, Math.floor(p2 / TWO16) + Math.floor(low / TWO32), true);
    this.#out.dv.setUint32(at + 4, low % TWO32, true);
  }
}

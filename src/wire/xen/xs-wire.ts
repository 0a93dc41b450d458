/**
 * The xenstore wire protocol (Xen public/io/xs_wire.h): a 16-byte little-endian header
 * then `len` payload bytes, the same over a unix socket and over the shared ring page.
 * Payloads are mostly NUL-terminated strings (`path\0`, `path\0token\0`); a READ reply and
 * a WRITE request's value are raw bytes without a terminator.
 *
 * Parsing is for untrusted input and never throws. It tells three outcomes apart: a whole
 * message, "need more bytes" (not an error: wait for the stream) and a declared length
 * over XENSTORE_PAYLOAD_MAX (a protocol violation: C xenstored drops the connection).
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";

// enum xsd_sockmsg_type (4.17)
export const XS_CONTROL = 0;
export const XS_DEBUG = XS_CONTROL;
export const XS_DIRECTORY = 1;
export const XS_READ = 2;
export const XS_GET_PERMS = 3;
export const XS_WATCH = 4;
export const XS_UNWATCH = 5;
export const XS_TRANSACTION_START = 6;
export const XS_TRANSACTION_END = 7;
export const XS_INTRODUCE = 8;
export const XS_RELEASE = 9;
export const XS_GET_DOMAIN_PATH = 10;
export const XS_WRITE = 11;
export const XS_MKDIR = 12;
export const XS_RM = 13;
export const XS_SET_PERMS = 14;
export const XS_WATCH_EVENT = 15;
export const XS_ERROR = 16;
export const XS_IS_DOMAIN_INTRODUCED = 17;
export const XS_RESUME = 18;
export const XS_SET_TARGET = 19;
// 20 was XS_RESTRICT, removed: invalid.
export const XS_RESET_WATCHES = 21;
export const XS_DIRECTORY_PART = 22;
/** Number of valid types in 4.17 (enum XS_TYPE_COUNT). */
export const XS_TYPE_COUNT = 23;
/** [master-only] not in 4.17: a 4.17 daemon answers ENOSYS. */
export const XS_GET_FEATURE = 23;
/** [master-only] */
export const XS_SET_FEATURE = 24;
/** [master-only] */
export const XS_GET_QUOTA = 25;
/** [master-only] */
export const XS_SET_QUOTA = 26;
/** Guaranteed never to be a valid type. */
export const XS_INVALID = 0xffff;

/** Names by type number, 0..26; `undefined` for 20 (removed). */
export const XS_TYPE_NAMES: readonly (string | undefined)[] = Object.freeze([
  "XS_CONTROL",
  "XS_DIRECTORY",
  "XS_READ",
  "XS_GET_PERMS",
  "XS_WATCH",
  "XS_UNWATCH",
  "XS_TRANSACTION_START",
  "XS_TRANSACTION_END",
  "XS_INTRODUCE",
  "XS_RELEASE",
  "XS_GET_DOMAIN_PATH",
  "XS_WRITE",
  "XS_MKDIR",
  "XS_RM",
  "XS_SET_PERMS",
  "XS_WATCH_EVENT",
  "XS_ERROR",
  "XS_IS_DOMAIN_INTRODUCED",
  "XS_RESUME",
  "XS_SET_TARGET",
  undefined,
  "XS_RESET_WATCHES",
  "XS_DIRECTORY_PART",
  "XS_GET_FEATURE",
  "XS_SET_FEATURE",
  "XS_GET_QUOTA",
  "XS_SET_QUOTA",
]);

/** True for the types a 4.17 daemon knows (0..22 except the removed 20). */
export function isXsType417(type: number): boolean {
  return Number.isInteger(type) && type >= 0 && type < XS_TYPE_COUNT && type !== 20;
}

/** For logs: "XS_READ", "XS_GET_QUOTA (master-only)" or "XS_UNKNOWN(20)". */
export function xsTypeName(type: number): string {
  const name = Number.isInteger(type) && type >= 0 ? XS_TYPE_NAMES[type] : undefined;
  if (name === undefined) return type === XS_INVALID ? "XS_INVALID" : `XS_UNKNOWN(${type})`;
  return type >= XS_TYPE_COUNT ? `${name} (master-only)` : name;
}

// enum xs_watch_type: positions in a WATCH_EVENT payload.
export const XS_WATCH_PATH = 0;
export const XS_WATCH_TOKEN = 1;

// Write modes (xs_wire.h keeps them; no 4.17 message carries them).
export const XS_WRITE_NONE = "NONE";
export const XS_WRITE_CREATE = "CREATE";
export const XS_WRITE_CREATE_EXCL = "CREATE|EXCL";

/** xsd_errors in header order: errors travel as their name, e.g. payload "ENOENT\0". */
export const XSD_ERRORS: readonly { readonly errnum: number; readonly errstring: string }[] = Object.freeze(
  (
    [
      [22, "EINVAL"],
      [13, "EACCES"],
      [17, "EEXIST"],
      [21, "EISDIR"],
      [2, "ENOENT"],
      [12, "ENOMEM"],
      [28, "ENOSPC"],
      [5, "EIO"],
      [39, "ENOTEMPTY"],
      [38, "ENOSYS"],
      [30, "EROFS"],
      [16, "EBUSY"],
      [11, "EAGAIN"],
      [106, "EISCONN"],
      [7, "E2BIG"],
      [1, "EPERM"],
    ] as const
  ).map(([errnum, errstring]) => Object.freeze({ errnum, errstring })),
);

/** The errno (Linux numbering) of an error name, or undefined. */
export function xsdErrnum(errstring: string): number | undefined {
  return XSD_ERRORS.find((e) => e.errstring === errstring)?.errnum;
}
/** The error name for an errno; unknown numbers map to "EINVAL", as xenstored does. */
export function xsdErrstring(errnum: number): string {
  return XSD_ERRORS.find((e) => e.errnum === errnum)?.errstring ?? "EINVAL";
}

export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

/*
 *   struct xsd_sockmsg {
 *       uint32_t type;    // @0  XS_*
 *       uint32_t req_id;  // @4  echoed in the reply
 *       uint32_t tx_id;   // @8  0, or a transaction id
 *       uint32_t len;     // @12 payload bytes that follow
 *   };                    // 16
 */
export const XSD_SOCKMSG_SIZE = 16;
export const XSD_SOCKMSG_FIELDS = { type: [0, 4], req_id: [4, 4], tx_id: [8, 4], len: [12, 4] } as const;
checkLayout("xsd_sockmsg", XSD_SOCKMSG_SIZE, XSD_SOCKMSG_FIELDS);

export interface XsHeaderRepr {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

/** A whole message. `payload` is the caller's own copy. */
export interface XsMsgRepr {
  type: number;
  reqId: number;
  txId: number;
  payload: Uint8Array;
}

/** Not an error: the buffer holds less than one message; `need` is its total size (when known). */
export interface XsNeedMore {
  readonly needMore: true;
  readonly need: number;
}

/** The header declares more than XENSTORE_PAYLOAD_MAX bytes: drop the connection. */
export interface XsTooLong extends ParseError {
  readonly tooLong: number;
}

export function isXsNeedMore(v: unknown): v is XsNeedMore {
  return typeof v === "object" && v !== null && (v as XsNeedMore).needMore === true;
}
export function isXsTooLong(v: unknown): v is XsTooLong {
  return typeof v === "object" && v !== null && typeof (v as XsTooLong).tooLong === "number";
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The header at `at`, or need-more (under 16 bytes), or too-long. */
export function parseXsHeader(b: Uint8Array, at = 0): XsHeaderRepr | XsNeedMore | XsTooLong {
  if (!Number.isInteger(at) || at < 0 || at + XSD_SOCKMSG_SIZE > b.length) {
    return { needMore: true, need: XSD_SOCKMSG_SIZE };
  }
  const dv = view(b);
  const len = dv.getUint32(at + 12, true);
  if (len > XENSTORE_PAYLOAD_MAX) {
    return {
      error: `xsd_sockmsg: payload length ${len} > XENSTORE_PAYLOAD_MAX (${XENSTORE_PAYLOAD_MAX})`,
      tooLong: len,
    };
  }
  return {
    type: dv.getUint32(at, true),
    reqId: dv.getUint32(at + 4, true),
    txId: dv.getUint32(at + 8, true),
    len,
  };
}

/**
 * One message at `at`: its header and a copy of its payload; it occupies
 * XSD_SOCKMSG_SIZE + payload.length bytes. Types are not checked (unknown ones get ENOSYS).
 */
export function parseXsMsg(b: Uint8Array, at = 0): XsMsgRepr | XsNeedMore | XsTooLong {
  const h = parseXsHeader(b, at);
  if (isXsNeedMore(h) || isXsTooLong(h)) return h;
  const end = at + XSD_SOCKMSG_SIZE + h.len;
  if (end > b.length) return { needMore: true, need: XSD_SOCKMSG_SIZE + h.len };
  return { type: h.type, reqId: h.reqId, txId: h.txId, payload: b.slice(at + XSD_SOCKMSG_SIZE, end) };
}

export function xsMsgByteLength(r: XsMsgRepr): number {
  return XSD_SOCKMSG_SIZE + r.payload.length;
}

/** Writes header and payload at `at`; returns the bytes written. */
export function emitXsMsg(r: XsMsgRepr, b: Uint8Array, at = 0): number {
  const n = xsMsgByteLength(r);
  assert(
    r.payload.length <= XENSTORE_PAYLOAD_MAX,
    `xs emit: payload ${r.payload.length} > ${XENSTORE_PAYLOAD_MAX}`,
  );
  assert(Number.isInteger(at) && at >= 0 && at + n <= b.length, "xs emit: buffer too short");
  const dv = view(b);
  dv.setUint32(at, r.type >>> 0, true);
  dv.setUint32(at + 4, r.reqId >>> 0, true);
  dv.setUint32(at + 8, r.txId >>> 0, true);
  dv.setUint32(at + 12, r.payload.length, true);
  b.set(r.payload, at + XSD_SOCKMSG_SIZE);
  return n;
}

/** A new buffer holding the message. */
export function xsMsgBytes(r: XsMsgRepr): Uint8Array {
  const b = new Uint8Array(xsMsgByteLength(r));
  emitXsMsg(r, b);
  return b;
}

const utf8 = new TextDecoder("utf-8");
const utf8Enc = new TextEncoder();

/**
 * The NUL-terminated strings of a payload: "a\0b\0" -> ["a", "b"], "\0" -> [""], "" -> [].
 * A payload whose last byte is not NUL is a ParseError. Bytes that are not UTF-8 decode
 * to U+FFFD.
 */
export function splitXsStrings(payload: Uint8Array): string[] | ParseError {
  if (payload.length === 0) return [];
  if (payload[payload.length - 1] !== 0) return parseError("xenstore payload: missing final NUL");
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] !== 0) continue;
    out.push(utf8.decode(payload.subarray(start, i)));
    start = i + 1;
  }
  return out;
}

/**
 * A `path\0value` payload (WRITE): the first string and the raw bytes after its NUL
 * (a view into `payload`). No NUL at all is a ParseError.
 */
export function splitXsPathValue(payload: Uint8Array): { path: string; value: Uint8Array } | ParseError {
  const nul = payload.indexOf(0);
  if (nul < 0) return parseError("xenstore payload: no NUL after the path");
  return { path: utf8.decode(payload.subarray(0, nul)), value: payload.subarray(nul + 1) };
}

/** Each string followed by a NUL; strings must not contain NUL. */
export function joinXsStrings(strings: readonly string[]): Uint8Array {
  const parts = strings.map((s) => {
    assert(!s.includes("\0"), "xenstore string contains NUL");
    return utf8Enc.encode(s);
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + 1;
  }
  return out;
}

/**
 * wire/: byte layouts only. Every format has two faces:
 *  1. hot-path accessors, free functions `fieldName(m: Mem, at: number)` reading or writing
 *     one field at an absolute byte offset through the views in `Mem`; they allocate
 *     nothing and check nothing: the caller has already checked `at + SIZE <= limit`;
 *  2. a `…Repr` plain object with `parse…(bytes, at?)` and `emit…(repr, bytes, at?)` for the
 *     control plane, tests and printing. `parse…` is for untrusted input: it checks length
 *     and returns a `ParseError` value (never throws) when the bytes cannot hold the format.
 *
 * Xen structures are little-endian (host order, checked in base/endian.ts) and read through
 * typed arrays; network formats are big-endian and read through DataView.
 * Each layout quotes its C struct and checks its size and alignment when the module loads.
 */
import { assert } from "../base/assert.js";

/** Returned by parsers for input that cannot hold the format. */
export interface ParseError {
  readonly error: string;
}

export function parseError(error: string): ParseError {
  return { error };
}

export function isParseError(v: unknown): v is ParseError {
  return typeof v === "object" && v !== null && typeof (v as ParseError).error === "string";
}

/**
 * Load-time check of a layout: fields in order, none overlapping, all inside `size`, and
 * scalars (width 2, 4 or 8) naturally aligned; byte arrays may sit anywhere.
 * `fields` maps name to [offset, width in bytes].
 */
export function checkLayout(
  name: string,
  size: number,
  fields: Record<string, readonly [number, number]>,
): void {
  let end = 0;
  for (const [field, [off, width]] of Object.entries(fields)) {
    assert(off >= end, `${name}.${field} at ${off} overlaps the previous field (ends at ${end})`);
    const scalar = width === 2 || width === 4 || width === 8;
    assert(!scalar || off % width === 0, `${name}.${field} at ${off} is misaligned`);
    end = off + width;
  }
  assert(end <= size, `${name} fields end at ${end}, past its size ${size}`);
}

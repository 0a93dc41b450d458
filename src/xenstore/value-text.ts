/**
 * How xenstore-utils show and take possibly-binary values (observed from the 4.17 tools):
 * printable ASCII as is except backslash (doubled); tab, newline and carriage return as
 * \t \n \r; bytes 0..7 as three-digit octal (\000..\007); every other byte as \xNN.
 * `unsanitiseValue` is the inverse xenstore-write applies to its arguments: the escapes above,
 * 1..3 octal digits, \x with one or two hex digits, and any other escaped character stands
 * for itself (\x without a hex digit is "x"; a trailing lone backslash is a NUL byte).
 */

export function sanitiseValue(v: Uint8Array): string {
  let out = "";
  for (const b of v) {
    if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else if (b === 0x09) out += "\\t";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b < 8) out += `\\00${b}`;
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

const NAMED: Record<string, number> = { t: 0x09, n: 0x0a, r: 0x0d };

function isOctal(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}

function hexVal(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Decodes an argument string (UTF-8) with xenstore-write's escapes into bytes. */
export function unsanitiseValue(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    if (i + 1 >= b.length) {
      out.push(0);
      break;
    }
    const e = b[++i]!;
    const named = NAMED[String.fromCharCode(e)];
    if (named !== undefined) {
      out.push(named);
    } else if (isOctal(e)) {
      let v = e - 0x30;
      for (let k = 0; k < 2 && isOctal(b[i + 1]); k++) v = v * 8 + (b[++i]! - 0x30);
      out.push(v & 0xff);
    } else if (e === 0x78 && hexVal(b[i + 1]) >= 0) {
      let v = hexVal(b[++i]);
      if (hexVal(b[i + 1]) >= 0) v = v * 16 + hexVal(b[++i]);
      out.push(v);
    } else {
      out.push(e);
    }
  }
  return Uint8Array.from(out);
}

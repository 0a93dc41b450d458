/**
 * A trace of everything the daemon handles, one line per message, as C xenstored's
 * `--trace-file` gives: so a handshake can be read, and compared with a real host's, line
 * by line. Each line: a timestamp, the direction (IN: a request; OUT: a reply or watch
 * event; NEW/END: a connection), the connection id and its domain, the type name, the
 * transaction and request ids, and the payload with NULs written `\0`.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { PvnetError } from "../base/errors.js";
import { xsTypeName } from "../wire/xen/xs-wire.js";

export type XsTraceDir = "IN" | "OUT";

/** Where trace lines go (one call per line, newline included). */
export type XsTraceSink = (line: string) => void;

/**
 * The payload as text: printable ASCII as is, NUL as `\0`, backslash as `\\`, and any other
 * byte as `\xNN`, so a line never breaks and a value's bytes can be told apart.
 */
export function tracePayload(p: Uint8Array): string {
  let s = "";
  for (let i = 0; i < p.length; i++) {
    const b = p[i]!;
    if (b === 0) s += "\\0";
    else if (b === 0x5c) s += "\\\\";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return s;
}

/** One message's line (without the timestamp's clock: `at` is given, for tests). */
export function traceLine(
  at: Date,
  dir: XsTraceDir,
  connId: number,
  domid: number,
  type: number,
  reqId: number,
  txId: number,
  payload: Uint8Array,
): string {
  const d = dir === "IN" ? "IN " : "OUT";
  return `${at.toISOString()} ${d} conn ${connId} dom${domid} ${xsTypeName(type)} tx ${txId} req ${reqId} (${tracePayload(payload)})\n`;
}

/** A connection's start or end. */
export function traceConnLine(
  at: Date,
  what: "NEW" | "END",
  connId: number,
  domid: number,
  why = "",
): string {
  return `${at.toISOString()} ${what} conn ${connId} dom${domid}${why === "" ? "" : ` (${why})`}\n`;
}

/**
 * A trace file, appended to with synchronous writes (as C xenstored writes its own): a
 * line is in the file when the message has been handled, whatever happens next.
 */
export class XsTraceFile {
  readonly path: string;
  #fd: number;

  constructor(path: string) {
    this.path = path;
    try {
      this.#fd = openSync(path, "a");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new PvnetError(err.code ?? "EIO", `cannot open the trace file ${path}: ${err.message}`);
    }
  }

  readonly write: XsTraceSink = (line) => {
    if (this.#fd < 0) return;
    writeSync(this.#fd, line);
  };

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

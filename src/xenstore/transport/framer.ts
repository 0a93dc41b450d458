/**
 * Reassembles xs_wire messages from a byte stream (a unix socket delivers arbitrary
 * chunks: half a header, or ten messages at once). Used by both ends of the socket
 * transport; the guest ring transport can reuse it because its rings are byte streams too.
 *
 * Memory stays bounded: at most one partial message (16 + XENSTORE_PAYLOAD_MAX bytes) is
 * kept between calls, and a header declaring a longer payload stops the stream for good
 * (C xenstored kills such a connection instead of trying to resynchronise).
 */
import { isXsNeedMore, isXsTooLong, parseXsMsg, type XsMsgRepr } from "../../wire/xen/xs-wire.js";

export class XsFramer {
  #pending: Uint8Array = new Uint8Array(0);
  #error: string | undefined;

  /** The protocol violation that stopped this stream, if any. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Bytes of an incomplete message held back. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /**
   * Feeds one chunk; calls `onMsg` for every whole message in order. Returns false (and
   * sets `error`) once a header declares too long a payload; later chunks are ignored.
   * `onMsg` may return false to stop early (the connection went away meanwhile).
   */
  push(chunk: Uint8Array, onMsg: (m: XsMsgRepr) => boolean | undefined): boolean {
    if (this.#error !== undefined) return false;
    // A Buffer's slice() is a view, not a copy: parse a plain Uint8Array so every payload is owned.
    const own = Buffer.isBuffer(chunk)
      ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : chunk;
    const buf = this.#pending.length === 0 ? own : concat(this.#pending, own);
    let at = 0;
    for (;;) {
      const r = parseXsMsg(buf, at);
      if (isXsNeedMore(r)) break;
      if (isXsTooLong(r)) {
        this.#error = r.error;
        this.#pending = new Uint8Array(0);
        return false;
      }
      at += 16 + r.payload.length;
      if (onMsg(r) === false) {
        this.#pending = new Uint8Array(0);
        return true;
      }
    }
    // Copy the tail: `chunk` may be a view into a pooled buffer the stream reuses.
    this.#pending = buf.slice(at);
    return true;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The guest ring transport, guest side: XsTransport over the guest's own xenstore page, so
 * `new XsClient(transport)` works inside a guest domain. Requests go into the req ring
 * (this side owns req_prod and rsp_cons), replies and watch events come out of the rsp ring
 * and are reassembled with XsFramer.
 *
 * The daemon is trusted more than a guest is, but its words are still shared memory: an
 * impossible index, an over-long header or the daemon's error field closes the transport
 * with a reason instead of throwing or looping.
 */
import { BYTE_RING_BAD_INDEX, ByteRingReader, ByteRingWriter } from "../../ring/byte-ring.js";
import type { Mem } from "../../wire/mem.js";
import {
  XENSTORE_CONNECTED,
  XENSTORE_ERROR_NONE,
  XENSTORE_RING_SIZE,
  XS_RING_REQ_OFF,
  XS_RING_RSP_OFF,
  xsConnection,
  xsError,
  xsSetConnection,
} from "../../wire/xen/xs-ring.js";
import type { XsMsgRepr } from "../../wire/xen/xs-wire.js";
import { XsFramer } from "./framer.js";
import type { XsTransport } from "./xs-transport.js";

export interface XsRingClientOptions {
  /** The guest's memory and the byte offset of its xenstore page. */
  m: Mem;
  at: number;
  /** Raises the event channel bound to the daemon. */
  notify: () => void;
  /** Called once when the transport closes (unhook the event channel here). */
  release?: () => void;
}

export class XsRingTransport implements XsTransport {
  readonly #o: XsRingClientOptions;
  readonly #reader: ByteRingReader;
  readonly #writer: ByteRingWriter;
  readonly #framer = new XsFramer();
  readonly #scratch = new Uint8Array(XENSTORE_RING_SIZE);
  #out: Uint8Array[] = [];
  #outAt = 0;
  #onMessage: (m: XsMsgRepr) => void = () => {};
  #onClose: (reason: string) => void = () => {};
  #closed: string | undefined;
  #inKick = false;
  /** xenstored's req_cons at the last kick. */
  #reqConsSeen = -1;

  /** Attaches to a page whose indices are where the guest last left them (zero when fresh). */
  constructor(opts: XsRingClientOptions) {
    this.#o = opts;
    const { m, at } = opts;
    this.#writer = new ByteRingWriter({
      m,
      buf: at + XS_RING_REQ_OFF,
      size: XENSTORE_RING_SIZE,
      consAt: at + 2048,
      prodAt: at + 2052,
    });
    this.#reader = new ByteRingReader({
      m,
      buf: at + XS_RING_RSP_OFF,
      size: XENSTORE_RING_SIZE,
      consAt: at + 2056,
      prodAt: at + 2060,
    });
    if (xsConnection(m, at) !== XENSTORE_CONNECTED) xsSetConnection(m, at, XENSTORE_CONNECTED);
  }

  /** Why the transport closed, or undefined while open. */
  get closed(): string | undefined {
    return this.#closed;
  }

  send(msg: Uint8Array): void {
    if (this.#closed !== undefined) return;
    this.#out.push(msg);
    this.kick();
  }

  onMessage(cb: (m: XsMsgRepr) => void): void {
    this.#onMessage = cb;
  }

  onClose(cb: (reason: string) => void): void {
    this.#onClose = cb;
  }

  close(): void {
    this.#shut("client closed");
  }

  /**
   * An event from the daemon (or new requests queued): move bytes both ways until stuck.
   * Returns false when nothing moved (a spurious event, see late-eoi.ts).
   */
  kick(): boolean {
    if (this.#closed !== undefined) return false;
    if (this.#inKick) return true;
    // xenstored notifies after taking requests too: that event is news, not spurious.
    const cons = Atomics.load(this.#o.m.u32, (this.#o.at + 2048) >>> 2);
    const consumed = cons !== this.#reqConsSeen;
    this.#reqConsSeen = cons;
    this.#inKick = true;
    let notify = false;
    try {
      // Each pass moves at most one ring each way; the rings bound how long this runs.
      for (let pass = 0; pass < 64; pass++) {
        const err = xsError(this.#o.m, this.#o.at);
        if (err !== XENSTORE_ERROR_NONE) {
          this.#shut(`xenstored reported ring error ${err}`);
          return true;
        }
        const w = this.#write();
        const r = this.#read();
        if (w < 0 || r < 0) return true;
        notify ||= w > 0 || r > 0;
        if (w === 0 && r === 0) break;
      }
    } finally {
      this.#inKick = false;
      if (notify && this.#closed === undefined) this.#o.notify();
    }
    return notify || consumed;
  }

  #write(): number {
    let total = 0;
    while (this.#out.length > 0) {
      const msg = this.#out[0];
      const k = this.#writer.write(msg, this.#outAt, msg.length - this.#outAt);
      if (k === BYTE_RING_BAD_INDEX) {
        this.#shut("impossible req ring indices");
        return -1;
      }
      total += k;
      this.#outAt += k;
      if (this.#outAt < msg.length) break;
      this.#out.shift();
      this.#outAt = 0;
    }
    return total;
  }

  #read(): number {
    const n = this.#reader.read(this.#scratch, 0, XENSTORE_RING_SIZE);
    if (n === BYTE_RING_BAD_INDEX) {
      this.#shut("impossible rsp ring indices");
      return -1;
    }
    if (n === 0) return 0;
    const ok = this.#framer.push(this.#scratch.subarray(0, n), (m) => {
      this.#onMessage(m);
      return this.#closed === undefined;
    });
    if (!ok) {
      this.#shut(`protocol error: ${this.#framer.error}`);
      return -1;
    }
    return n;
  }

  #shut(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    this.#out = [];
    this.#o.release?.();
    this.#onClose(reason);
  }
}

/**
 * The guest ring transport, daemon side: serves one guest's xenstore page
 * (xenstore_domain_interface, grant ref 1) after Domain-0 mapped it. Requests are read from
 * the req ring, reassembled with XsFramer and handed to the daemon; replies and watch events
 * queue here and go into the rsp ring as the guest makes room.
 *
 * Everything on the page is written by an untrusted guest at any moment. Indices are read
 * once per call and checked (ByteRing*); bytes are copied out before they are parsed. An
 * impossible index sets XENSTORE_ERROR_RINGIDX, a header longer than XENSTORE_PAYLOAD_MAX
 * sets XENSTORE_ERROR_PROTO, and the guest is no longer served (a logged reason); nothing
 * here throws, and each `kick` does a bounded amount of work, continuing through `defer`.
 *
 * Flow control: new requests are read only while the queued output is under one ring's
 * worth, so a guest that stops taking replies stalls only itself. Watch events caused by
 * other connections still queue; past `maxQueueBytes` the daemon closes the connection as
 * a slow reader (XENSTORE_ERROR_COMM on the page).
 */

import { RateLog } from "../../base/ratelog.js";
import { BYTE_RING_BAD_INDEX, ByteRingReader, ByteRingWriter } from "../../ring/byte-ring.js";
import type { Mem } from "../../wire/mem.js";
import {
  XENSTORE_CONNECTED,
  XENSTORE_ERROR_COMM,
  XENSTORE_ERROR_NONE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_RECONNECT,
  XENSTORE_RING_SIZE,
  XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION,
  XS_RING_REQ_OFF,
  XS_RING_RSP_OFF,
  xsConnection,
  xsSetConnection,
  xsSetError,
  xsSetReqCons,
  xsSetReqProd,
  xsSetRspCons,
  xsSetRspProd,
  xsSetServerFeatures,
} from "../../wire/xen/xs-ring.js";
import type { XsConnection, XsSink } from "../daemon.js";
import { DEFAULT_QUOTAS } from "../store/quota.js";
import { XsFramer } from "./framer.js";
import type { XsConnector } from "./socket.js";

/** What 4.17 advertises: reconnection and the error field (WATCHDEPTH etc. are master-only). */
export const XS_RING_SERVER_FEATURES = XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR;
/** Default bound on reply/event bytes queued for one guest before it counts as a slow reader. */
export const DEFAULT_RING_MAX_QUEUE = 256 * 1024;
/** Default request bytes read per kick before the rest is deferred. */
export const DEFAULT_RING_BUDGET = 16 * 1024;

export interface XsRingServerOptions {
  /** The memory holding the mapped page, and the page's byte offset in it. */
  m: Mem;
  at: number;
  domid: number;
  /** Raises the guest's event channel. */
  notify: () => void;
  /** Runs `fn` later (the domain's loop.defer); default setImmediate. */
  defer?: (fn: () => void) => void;
  maxQueueBytes?: number;
  /** Replies not yet in the ring after which no more requests are read (C's quota-outstanding). */
  outstanding?: number;
  budget?: number;
  log?: (line: string) => void;
  /** Called when serving stops (error, daemon close, or `close`); a reconnect may resume it. */
  onStopped?: (reason: string) => void;
}

export interface XsRingServerStats {
  requests: number;
  reqBytes: number;
  rspBytes: number;
  notifies: number;
  reconnects: number;
}

export class XsRingServer {
  readonly domid: number;
  readonly stats: XsRingServerStats = { requests: 0, reqBytes: 0, rspBytes: 0, notifies: 0, reconnects: 0 };
  readonly #o: XsRingServerOptions;
  readonly #daemon: XsConnector;
  readonly #log: RateLog;
  readonly #maxQueue: number;
  readonly #outstanding: number;
  readonly #budget: number;
  readonly #defer: (fn: () => void) => void;
  readonly #scratch = new Uint8Array(XENSTORE_RING_SIZE);
  #conn!: XsConnection;
  #reader!: ByteRingReader;
  #writer!: ByteRingWriter;
  #framer!: XsFramer;
  /** Outgoing messages; the first may be partly written (`#outAt` bytes of it). */
  #out: Uint8Array[] = [];
  #outAt = 0;
  #outBytes = 0;
  #inKick = false;
  /** The guest's rsp_cons at the last kick. */
  #rspConsSeen = -1;
  #deferred = false;
  /** Why the guest is no longer served; undefined while serving. */
  #stopped: string | undefined;
  /** `close` was called: not even a reconnect revives the server. */
  #released = false;
  /** Bumped on every reconnect, so a sink of an old connection goes quiet. */
  #epoch = 0;

  constructor(daemon: XsConnector, opts: XsRingServerOptions) {
    this.#o = opts;
    this.#daemon = daemon;
    this.domid = opts.domid;
    this.#log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
    this.#maxQueue = opts.maxQueueBytes ?? DEFAULT_RING_MAX_QUEUE;
    this.#outstanding = opts.outstanding ?? DEFAULT_QUOTAS.outstanding;
    this.#budget = opts.budget ?? DEFAULT_RING_BUDGET;
    this.#defer = opts.defer ?? ((fn) => void setImmediate(fn));
    xsSetServerFeatures(opts.m, opts.at, XS_RING_SERVER_FEATURES);
    this.#attach();
  }

  /** Why serving stopped, or undefined while the guest is served. */
  get stopped(): string | undefined {
    return this.#stopped;
  }

  /** Bytes queued towards the guest. */
  get queuedBytes(): number {
    return this.#outBytes;
  }

  /**
   * The guest raised the event channel (or anything else may have changed): do a bounded
   * pass. Returns false when it found nothing to move (a spurious event, see late-eoi.ts).
   */
  kick(): boolean {
    if (this.#released) return false;
    if (this.#inKick) return true;
    const { m, at } = this.#o;
    let reconnected = false;
    if (xsConnection(m, at) === XENSTORE_RECONNECT) {
      this.#reconnect();
      reconnected = true;
    }
    if (this.#stopped !== undefined) return reconnected;
    // The guest notifies after taking replies too (xs_wire.h): that event is news, not spurious.
    const cons = Atomics.load(m.u32, (at + 2056) >>> 2);
    const consumed = cons !== this.#rspConsSeen;
    this.#rspConsSeen = cons;
    this.#inKick = true;
    let notify = false;
    let budget = this.#budget;
    try {
      for (;;) {
        const wrote = this.#flush();
        if (wrote < 0) return true;
        notify ||= wrote > 0;
        // The guest must take replies first: C xenstored stops reading a connection that
        // has `outstanding` (default 20) replies not yet in its ring; pvnet checks that count,
        // and a ring's worth of bytes, before each read of up to one ring of requests.
        if (this.#outBytes >= XENSTORE_RING_SIZE || this.#out.length >= this.#outstanding) break;
        const n = this.#readRequests();
        if (n < 0) return true;
        if (n === 0 && wrote === 0) break;
        notify ||= n > 0;
        budget -= n + wrote;
        if (budget <= 0) {
          this.#later();
          break;
        }
      }
    } finally {
      this.#inKick = false;
      if (notify && this.#stopped === undefined) this.#notify();
    }
    return notify || consumed || reconnected;
  }

  /** Stops serving for good (domain released or destroyed); the daemon drops the connection. */
  close(reason = "released"): void {
    this.#released = true;
    this.#stop(reason, XENSTORE_ERROR_NONE);
  }

  #attach(): void {
    const { m, at } = this.#o;
    const epoch = ++this.#epoch;
    this.#reader = new ByteRingReader({
      m,
      buf: at + XS_RING_REQ_OFF,
      size: XENSTORE_RING_SIZE,
      consAt: at + 2048,
      prodAt: at + 2052,
    });
    this.#writer = new ByteRingWriter({
      m,
      buf: at + XS_RING_RSP_OFF,
      size: XENSTORE_RING_SIZE,
      consAt: at + 2056,
      prodAt: at + 2060,
    });
    this.#framer = new XsFramer();
    this.#out = [];
    this.#outAt = 0;
    this.#outBytes = 0;
    const sink: XsSink = {
      send: (msg) => (epoch === this.#epoch ? this.#queue(msg) : true),
      close: (reason) => {
        if (epoch === this.#epoch) this.#stop(`daemon closed the connection: ${reason}`, XENSTORE_ERROR_COMM);
      },
    };
    this.#conn = this.#daemon.connect({ domid: this.domid, privileged: false }, sink);
  }

  /**
   * XENSTORE_RECONNECT (docs/misc/xenstore-ring.txt): drop the connection's watches and
   * transactions, discard everything in both rings, reset the indices and the error, and
   * answer CONNECTED. A guest stopped for an error may recover this way; a released one not.
   */
  #reconnect(): void {
    const { m, at } = this.#o;
    this.#conn.close();
    this.stats.reconnects++;
    xsSetReqCons(m, at, 0);
    xsSetReqProd(m, at, 0);
    xsSetRspCons(m, at, 0);
    xsSetRspProd(m, at, 0);
    xsSetError(m, at, XENSTORE_ERROR_NONE);
    this.#stopped = undefined;
    this.#attach();
    xsSetConnection(m, at, XENSTORE_CONNECTED);
    this.#notify();
  }

  /** Reads up to one ring of request bytes and handles the whole messages; bytes read or -1. */
  #readRequests(): number {
    const n = this.#reader.read(this.#scratch, 0, XENSTORE_RING_SIZE);
    if (n === BYTE_RING_BAD_INDEX) {
      this.#stop("impossible req ring indices", XENSTORE_ERROR_RINGIDX);
      return -1;
    }
    if (n === 0) return 0;
    this.stats.reqBytes += n;
    const conn = this.#conn;
    const ok = this.#framer.push(this.#scratch.subarray(0, n), (msg) => {
      this.stats.requests++;
      try {
        conn.handle(msg.type, msg.reqId, msg.txId, msg.payload);
      } catch (e) {
        this.#stop(`daemon error: ${e instanceof Error ? e.message : String(e)}`, XENSTORE_ERROR_COMM);
      }
      return this.#stopped === undefined;
    });
    if (!ok) {
      this.#stop(`protocol error: ${this.#framer.error}`, XENSTORE_ERROR_PROTO);
      return -1;
    }
    return this.#stopped === undefined ? n : -1;
  }

  #queue(msg: Uint8Array): boolean {
    if (this.#stopped !== undefined) return true; // the connection is being dropped anyway
    this.#out.push(msg);
    this.#outBytes += msg.length;
    if (this.#outBytes > this.#maxQueue) return false;
    // An event caused by another connection: push it out now (bounded by the ring's room).
    if (!this.#inKick) {
      const wrote = this.#flush();
      if (wrote > 0) this.#notify();
    }
    return true;
  }

  /** Writes queued bytes into the rsp ring as room allows; bytes written or -1. */
  #flush(): number {
    let total = 0;
    while (this.#out.length > 0) {
      const msg = this.#out[0];
      const k = this.#writer.write(msg, this.#outAt, msg.length - this.#outAt);
      if (k === BYTE_RING_BAD_INDEX) {
        this.#stop("impossible rsp ring indices", XENSTORE_ERROR_RINGIDX);
        return -1;
      }
      total += k;
      this.#outAt += k;
      this.#outBytes -= k;
      if (this.#outAt < msg.length) break;
      this.#out.shift();
      this.#outAt = 0;
    }
    this.stats.rspBytes += total;
    return total;
  }

  #later(): void {
    if (this.#deferred) return;
    this.#deferred = true;
    this.#defer(() => {
      this.#deferred = false;
      this.kick();
    });
  }

  #notify(): void {
    this.stats.notifies++;
    this.#o.notify();
  }

  #stop(reason: string, error: number): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = reason;
    this.#out = [];
    this.#outBytes = 0;
    const { m, at } = this.#o;
    if (error !== XENSTORE_ERROR_NONE) {
      xsSetError(m, at, error);
      this.#log.log(`dom${this.domid}`, `xenstored: guest ${this.domid} no longer served: ${reason}`);
      this.#notify(); // so the guest looks at the error field
    }
    this.#conn.close();
    this.#o.onStopped?.(reason);
  }
}

/**
 * The xenstore daemon, transport-agnostic. A transport (unix socket, guest ring page)
 * frames messages, then hands each whole request to XsConnection.handle; replies and
 * watch events go back through the connection's XsSink. The daemon never blocks: when a
 * sink refuses a message (its queue is over its bound) that connection is closed with a
 * logged reason and everyone else carries on.
 *
 * Behaviour follows C xenstored 4.17 (xen-protocol.md §6): every bad request gets an
 * xs_wire error name; nothing a client sends makes this code throw (a throw is a bug).
 * Replies go out in request order; the events a request causes follow its reply.
 */
import { assert } from "../base/assert.js";
import {
  joinXsStrings,
  XENSTORE_PAYLOAD_MAX,
  XS_ERROR,
  XS_WATCH_EVENT,
  xsMsgBytes,
} from "../wire/xen/xs-wire.js";
import {
  DOM0_NAME,
  domainPath,
  KEY_DOMID,
  KEY_NAME,
  TOOL_PATH,
  VM_PATH,
  XS_INTRODUCE_DOMAIN,
  XS_RELEASE_DOMAIN,
  XS_SPECIAL_PATHS,
} from "./keys.js";
import { isXsFail, type XsErrName, type XsFail, xsFail } from "./path.js";
import { dispatch, type RequestContext } from "./requests.js";
import type { OpCaller, XsChange } from "./store/ops.js";
import { DOM0_ONLY, type XsPerms } from "./store/perms.js";
import { resolveQuotas, type XsQuotas } from "./store/quota.js";
import { XsTree } from "./store/tree.js";
import type { XsTransaction } from "./store/txn.js";
import { type WatchOwner, type XsWatchEvent, XsWatchTable } from "./store/watch.js";
import { traceConnLine, traceLine, type XsTraceSink } from "./trace.js";

export type { XsQuotas } from "./store/quota.js";

export interface XsSink {
  /** Queues one whole message (16-byte header + payload) for the client; false when the connection's outgoing queue is over its bound. */
  send(msg: Uint8Array): boolean;
  /** The daemon ends the connection (protocol error, quota, slow reader), with a reason for the log. */
  close(reason: string): void;
}

export interface XsConnOptions {
  domid: number;
  privileged: boolean;
}

export interface XsConnection {
  readonly id: number;
  readonly domid: number;
  /** One complete request, already framed and length-checked by the transport. Replies (and watch events) go to the sink, replies in request order. */
  handle(type: number, reqId: number, txId: number, payload: Uint8Array): void;
  /** The transport lost the peer: drop its watches and transactions (idempotent). */
  close(): void;
}

export interface XenstoredOptions {
  quotas?: Partial<XsQuotas>;
  log?: (line: string) => void;
  /** Most watch events one request may queue for one connection; beyond it that connection is closed. */
  maxQueuedEvents?: number;
  /**
   * Called for an INTRODUCE from dom0 before the domain counts as introduced (the ring
   * transport maps the page here); a returned XsFail is the reply.
   */
  onIntroduce?: (domid: number, gfn: number, evtchn: number) => XsFail | undefined;
  /** Called when a domain is released (the ring transport unmaps its page). */
  onRelease?: (domid: number) => void;
  /** Every request and reply (and watch event, and connection start/end) as a line (trace.ts). */
  trace?: XsTraceSink;
  /**
   * Each change as it takes effect (a transaction's at its commit), with the domain whose
   * request made it: the node is already in `tree` (or gone from it) when this is called.
   */
  onChange?: (change: XsChange, domid: number) => void;
}

const enc = new TextEncoder();
const DEFAULT_MAX_QUEUED_EVENTS = 1024;

/** One client connection: its identity, open transactions and outgoing sink. */
export class Conn implements XsConnection, WatchOwner {
  readonly id: number;
  readonly domid: number;
  readonly privileged: boolean;
  target: number | undefined;
  readonly sink: XsSink;
  readonly txns = new Map<number, XsTransaction>();
  #nextTxId = 1;
  closed = false;
  readonly #daemon: Xenstored;

  constructor(daemon: Xenstored, id: number, opts: XsConnOptions, sink: XsSink) {
    this.#daemon = daemon;
    this.id = id;
    this.domid = opts.domid;
    this.privileged = opts.privileged;
    this.sink = sink;
  }

  handle(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    this.#daemon.handleRequest(this, type >>> 0, reqId >>> 0, txId >>> 0, payload);
  }

  close(): void {
    this.#daemon.dropConnection(this);
  }

  /** A fresh nonzero u32 transaction id not in use on this connection. */
  allocTxId(): number {
    for (;;) {
      const id = this.#nextTxId;
      this.#nextTxId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.txns.has(id)) return id;
    }
  }
}

export class Xenstored {
  readonly tree: XsTree;
  readonly watches = new XsWatchTable();
  readonly quotas: Readonly<XsQuotas>;
  readonly stats = { requests: 0, errors: 0, watchEvents: 0, connections: 0 };
  /** Perms of the special watch names (settable by dom0 to let guests watch them). */
  readonly specialPerms = new Map<string, XsPerms>(XS_SPECIAL_PATHS.map((p) => [p, DOM0_ONLY]));
  readonly introduced = new Set<number>([0]);
  /** Stub domain -> the domain it acts for (SET_TARGET). */
  readonly targets = new Map<number, number>();
  readonly #conns = new Map<number, Conn>();
  readonly #log: (line: string) => void;
  readonly #maxQueuedEvents: number;
  readonly opts: XenstoredOptions;
  #nextConnId = 1;
  /** Events caused by the request being handled, sent after its reply. */
  #pending: XsWatchEvent[] = [];

  constructor(opts: XenstoredOptions = {}) {
    this.opts = opts;
    this.quotas = resolveQuotas(opts.quotas);
    this.#log = opts.log ?? (() => {});
    this.#maxQueuedEvents = opts.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    this.tree = new XsTree(DOM0_ONLY);
    this.#populate();
  }

  connect(opts: XsConnOptions, sink: XsSink): XsConnection {
    assert(Number.isInteger(opts.domid) && opts.domid >= 0 && opts.domid <= 0xffff, "xenstored: bad domid");
    const conn = new Conn(this, this.#nextConnId++, opts, sink);
    conn.target = this.targets.get(conn.domid);
    this.#conns.set(conn.id, conn);
    this.stats.connections++;
    this.opts.trace?.(traceConnLine(new Date(), "NEW", conn.id, conn.domid));
    return conn;
  }

  /** Marks a domain introduced (fires @introduceDomain); the ring transport calls this too. */
  introduceDomain(domid: number): void {
    if (this.introduced.has(domid)) return;
    this.introduced.add(domid);
    this.#fireSpecial(XS_INTRODUCE_DOMAIN);
  }

  /** Domain gone: fires @releaseDomain, drops its connections' state. */
  releaseDomain(domid: number): void {
    if (domid === 0 || !this.introduced.delete(domid)) return;
    this.targets.delete(domid);
    for (const c of [...this.#conns.values()]) {
      if (c.domid === domid && !c.privileged) this.kill(c, `domain ${domid} released`);
    }
    this.#forgetDomainInPerms(domid);
    this.opts.onRelease?.(domid);
    this.#fireSpecial(XS_RELEASE_DOMAIN);
  }

  /**
   * A later domain may reuse the id (XSA-322): nodes the dead domain owned pass to dom0
   * and entries naming it are dropped, so the newcomer inherits no access.
   */
  #forgetDomainInPerms(domid: number): void {
    const fix = (perms: XsPerms): XsPerms | undefined => {
      if (!perms.some((p) => p.domid === domid)) return undefined;
      const owner = perms[0].domid === domid ? { letter: perms[0].letter, domid: 0 } : perms[0];
      return [owner, ...perms.slice(1).filter((p) => p.domid !== domid)];
    };
    for (const path of [...this.tree.paths()]) {
      const node = this.tree.get(path)!;
      const perms = fix(node.perms);
      if (perms !== undefined) this.tree.put(path, { value: node.value, perms, children: node.children });
    }
    for (const [name, perms] of this.specialPerms) {
      const fixed = fix(perms);
      if (fixed !== undefined) this.specialPerms.set(name, fixed);
    }
  }

  /** Open connections (for the transports' status output and tests). */
  connections(): IterableIterator<XsConnection> {
    return this.#conns.values();
  }

  /** The identity operations check perms and quotas against. */
  callerOf(conn: Conn): OpCaller {
    return { domid: conn.domid, privileged: conn.privileged, target: conn.target, quotas: this.quotas };
  }

  handleRequest(conn: Conn, type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (conn.closed) return;
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      // The transport should have caught it; C xenstored drops such a connection.
      this.kill(conn, `protocol error: payload ${payload.length} > ${XENSTORE_PAYLOAD_MAX}`);
      return;
    }
    this.stats.requests++;
    this.opts.trace?.(traceLine(new Date(), "IN", conn.id, conn.domid, type, reqId, txId, payload));
    const ctx: RequestContext = { daemon: this, conn, record: (tx, ch) => this.record(tx, ch, conn.domid) };
    const r = dispatch(ctx, type, txId, payload);
    let reply: Uint8Array | XsFail = r;
    if (!isXsFail(r) && r.length > XENSTORE_PAYLOAD_MAX) reply = xsFail("E2BIG");
    if (isXsFail(reply)) {
      this.stats.errors++;
      this.#send(conn, XS_ERROR, reqId, txId, errorPayload(reply.err));
    } else {
      this.#send(conn, type, reqId, txId, reply);
    }
    this.flushEvents();
  }

  /** A change made outside a transaction fires now; inside one it waits for the commit. */
  record(tx: XsTransaction | undefined, change: XsChange, domid = 0): void {
    if (tx !== undefined) tx.changes.push(change);
    else {
      this.#pending.push(...this.watches.eventsFor(change, this.#conns));
      this.opts.onChange?.(change, domid);
    }
  }

  /** Queues one watch event (the initial fire of a new watch). */
  queueEvent(ev: XsWatchEvent): void {
    this.#pending.push(ev);
  }

  /** Sends the events the last request caused. */
  flushEvents(): void {
    const events = this.#pending;
    if (events.length === 0) return;
    this.#pending = [];
    const perConn = new Map<number, number>();
    for (const ev of events) {
      const conn = this.#conns.get(ev.connId);
      if (conn === undefined || conn.closed) continue;
      const n = (perConn.get(ev.connId) ?? 0) + 1;
      perConn.set(ev.connId, n);
      if (n > this.#maxQueuedEvents) {
        this.kill(conn, `more than ${this.#maxQueuedEvents} watch events queued by one request`);
        continue;
      }
      const payload = joinXsStrings([ev.epath, ev.token]);
      if (payload.length > XENSTORE_PAYLOAD_MAX) {
        this.#log(`xenstored: conn ${conn.id}: watch event for ${ev.epath.slice(0, 64)}… too long, dropped`);
        continue;
      }
      this.stats.watchEvents++;
      this.#send(conn, XS_WATCH_EVENT, 0, 0, payload);
    }
  }

  /** Drops a connection's transactions and watches (idempotent). */
  dropConnection(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.txns.clear();
    this.watches.removeAll(conn.id);
    this.#conns.delete(conn.id);
    this.stats.connections--;
    this.opts.trace?.(traceConnLine(new Date(), "END", conn.id, conn.domid));
  }

  /** The daemon ends a connection: state dropped, transport told why, line logged. */
  kill(conn: Conn, reason: string): void {
    if (conn.closed) return;
    this.#log(`xenstored: closing conn ${conn.id} (dom${conn.domid}): ${reason}`);
    this.dropConnection(conn);
    conn.sink.close(reason);
  }

  log(line: string): void {
    this.#log(line);
  }

  #send(conn: Conn, type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (conn.closed) return;
    this.opts.trace?.(traceLine(new Date(), "OUT", conn.id, conn.domid, type, reqId, txId, payload));
    if (!conn.sink.send(xsMsgBytes({ type, reqId, txId, payload }))) {
      this.kill(conn, "slow reader: outgoing queue over its bound");
    }
  }

  #fireSpecial(name: string): void {
    const perms = this.specialPerms.get(name) ?? DOM0_ONLY;
    this.#pending.push(...this.watches.specialEventsFor(name, perms, this.#conns));
    this.flushEvents();
  }

  /** The tree a Xen host has after boot: dom0's home with its name and id, /tool, /vm. */
  #populate(): void {
    const value = (s: string) => enc.encode(s);
    const put = (path: string, children: string[], v = "") =>
      this.tree.put(path, { value: value(v), perms: DOM0_ONLY, children });
    const home = domainPath(0);
    put("/", ["tool", "local", "vm"]);
    put(TOOL_PATH, []);
    put("/local", ["domain"]);
    put("/local/domain", ["0"]);
    put(home, [KEY_NAME, KEY_DOMID]);
    put(`${home}/${KEY_NAME}`, [], DOM0_NAME);
    put(`${home}/${KEY_DOMID}`, [], "0");
    put(VM_PATH, []);
  }
}

function errorPayload(err: XsErrName): Uint8Array {
  return joinXsStrings([err]);
}

/**
 * Test double for a transport: a sink that parses every message the daemon sends with
 * parseXsMsg, and a small client that speaks xs_wire through XsConnection.handle.
 */
import assert from "node:assert/strict";
import {
  isXsNeedMore,
  isXsTooLong,
  joinXsStrings,
  parseXsMsg,
  splitXsStrings,
  XS_DIRECTORY,
  XS_ERROR,
  XS_GET_PERMS,
  XS_MKDIR,
  XS_READ,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  XSD_SOCKMSG_SIZE,
  type XsMsgRepr,
} from "../../src/wire/xen/xs-wire.js";
import {
  Xenstored,
  type XenstoredOptions,
  type XsConnection,
  type XsSink,
} from "../../src/xenstore/daemon.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export class FakeSink implements XsSink {
  readonly msgs: XsMsgRepr[] = [];
  closedWith: string | undefined;
  /** Refuse messages (a slow reader). */
  full = false;

  send(msg: Uint8Array): boolean {
    const m = parseXsMsg(msg);
    assert.ok(!isXsNeedMore(m) && !isXsTooLong(m), "daemon sent a malformed message");
    assert.equal(msg.length, XSD_SOCKMSG_SIZE + m.payload.length, "daemon sent trailing bytes");
    if (this.full) return false;
    this.msgs.push(m);
    return true;
  }

  close(reason: string): void {
    this.closedWith = reason;
  }
}

export interface Reply {
  readonly type: number;
  readonly txId: number;
  readonly payload: Uint8Array;
  /** The error name for XS_ERROR replies. */
  readonly err: string | undefined;
}

export function str(s: string): Uint8Array {
  return enc.encode(s);
}

export class TestClient {
  readonly sink = new FakeSink();
  readonly conn: XsConnection;
  #reqId = 100;

  constructor(
    readonly daemon: Xenstored,
    readonly domid: number,
    privileged = domid === 0,
  ) {
    this.conn = daemon.connect({ domid, privileged }, this.sink);
  }

  /** Sends one request; returns its reply (there must be exactly one) and keeps events aside. */
  call(type: number, args: readonly string[] | Uint8Array, txId = 0): Reply {
    const payload = args instanceof Uint8Array ? args : joinXsStrings(args);
    const reqId = this.#reqId++;
    const before = this.sink.msgs.length;
    this.conn.handle(type, reqId, txId, payload);
    const replies = this.sink.msgs.slice(before).filter((m) => m.type !== XS_WATCH_EVENT);
    assert.equal(replies.length, 1, `expected one reply to type ${type}`);
    const r = replies[0];
    assert.equal(r.reqId, reqId);
    assert.equal(r.txId, txId);
    if (r.type === XS_ERROR) {
      const s = splitXsStrings(r.payload);
      assert.ok(Array.isArray(s) && s.length === 1, "error payload is one string");
      return { type: r.type, txId: r.txId, payload: r.payload, err: s[0] };
    }
    assert.equal(r.type, type);
    return { type: r.type, txId: r.txId, payload: r.payload, err: undefined };
  }

  /** Error name or "OK"-style string list. */
  strings(type: number, args: readonly string[] | Uint8Array, txId = 0): string[] | string {
    const r = this.call(type, args, txId);
    if (r.err !== undefined) return r.err;
    const s = splitXsStrings(r.payload);
    assert.ok(Array.isArray(s));
    return s;
  }

  read(path: string, txId = 0): string {
    const r = this.call(XS_READ, [path], txId);
    return r.err ?? `=${dec.decode(r.payload)}`;
  }

  write(path: string, value: string | Uint8Array, txId = 0): string {
    const v = typeof value === "string" ? enc.encode(value) : value;
    const p = enc.encode(path);
    const payload = new Uint8Array(p.length + 1 + v.length);
    payload.set(p);
    payload.set(v, p.length + 1);
    return ok(this.call(XS_WRITE, payload, txId));
  }

  mkdir(path: string, txId = 0): string {
    return ok(this.call(XS_MKDIR, [path], txId));
  }

  rm(path: string, txId = 0): string {
    return ok(this.call(XS_RM, [path], txId));
  }

  dir(path: string, txId = 0): string[] | string {
    return this.strings(XS_DIRECTORY, [path], txId);
  }

  getPerms(path: string, txId = 0): string {
    const s = this.strings(XS_GET_PERMS, [path], txId);
    return typeof s === "string" ? s : s.join(",");
  }

  setPerms(path: string, perms: readonly string[], txId = 0): string {
    return ok(this.call(XS_SET_PERMS, [path, ...perms], txId));
  }

  watch(path: string, token: string): string {
    return ok(this.call(XS_WATCH, [path, token]));
  }

  unwatch(path: string, token: string): string {
    return ok(this.call(XS_UNWATCH, [path, token]));
  }

  txStart(): number {
    const s = this.strings(XS_TRANSACTION_START, [""]);
    assert.ok(Array.isArray(s), `TRANSACTION_START failed: ${s}`);
    return Number(s[0]);
  }

  txEnd(txId: number, commit: boolean): string {
    return ok(this.call(XS_TRANSACTION_END, [commit ? "T" : "F"], txId));
  }

  /** Watch events received so far as "epath token", and forgets them. */
  events(): string[] {
    const out: string[] = [];
    for (const m of this.sink.msgs) {
      if (m.type !== XS_WATCH_EVENT) continue;
      assert.equal(m.reqId, 0);
      assert.equal(m.txId, 0);
      const s = splitXsStrings(m.payload);
      assert.ok(Array.isArray(s) && s.length === 2, "watch event payload is epath\\0token\\0");
      out.push(`${s[0]} ${s[1]}`);
    }
    this.sink.msgs.length = 0;
    return out;
  }
}

function ok(r: Reply): string {
  if (r.err !== undefined) return r.err;
  assert.equal(dec.decode(r.payload), "OK\0");
  return "OK";
}

export function newDaemon(opts?: XenstoredOptions): { d: Xenstored; log: string[] } {
  const log: string[] = [];
  const d = new Xenstored({ ...opts, log: (l) => log.push(l) });
  return { d, log };
}

/** dom0 creates a guest's home owned by the guest, as the toolstack does. */
export function makeGuestHome(dom0: TestClient, domid: number): void {
  assert.equal(dom0.mkdir(`/local/domain/${domid}`), "OK");
  assert.equal(dom0.setPerms(`/local/domain/${domid}`, [`n${domid}`, "r0"]), "OK");
}

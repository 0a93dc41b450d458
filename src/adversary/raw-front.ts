/**
 * The malicious frontend's hands: a netif connection made by hand, with no FrontRing in
 * the way, so a case can write any word of the shared ring pages (request slots, req_prod,
 * rsp_event), grant whatever it likes and write any key in its vif directory. Connect and
 * disconnect follow the xenbus handshake a Linux netfront does, so each case starts from a
 * fresh connection and leaves nothing behind.
 */
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import {
  NET_TX_RING_SIZE,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETIF_TX_ENTRY_SIZE,
  txReqWrite,
} from "../wire/xen/netif.js";
import { SRING_HDR_SIZE, SRING_REQ_PROD, SRING_RSP_EVENT, SRING_RSP_PROD } from "../wire/xen/sring.js";
import type { XsClient } from "../xenstore/client.js";
import {
  FEATURE_RX_NOTIFY,
  FEATURE_SG,
  KEY_BACKEND,
  KEY_BACKEND_ID,
  KEY_EVENT_CHANNEL,
  KEY_REQUEST_RX_COPY,
  KEY_RX_RING_REF,
  KEY_STATE,
  KEY_TX_RING_REF,
  vifFrontendPath,
} from "../xenstore/keys.js";
import { parseXenbusState, readOrUndefined, XenbusState } from "../xenstore/xenbus.js";

/** TX data pages the adversary keeps granted (read-only) to the backend: one per ring slot. */
export const DATA_PAGES = NET_TX_RING_SIZE;

const STANDARD_KEYS = [
  KEY_TX_RING_REF,
  KEY_RX_RING_REF,
  KEY_EVENT_CHANNEL,
  KEY_REQUEST_RX_COPY,
  FEATURE_RX_NOTIFY,
  FEATURE_SG,
];

export interface TxTally {
  okay: number;
  error: number;
  null: number;
  other: number;
}

export class RawFront {
  readonly dom: Domain;
  readonly xs: XsClient;
  readonly devid: number;
  readonly dir: string;
  backendDir = "";
  backendId = 0;
  /** Data pages and their grants, kept across connections. */
  readonly dataPages: number[] = [];
  readonly dataRefs: number[] = [];
  /** This connection's rings (byte offsets of the pages in our memory) and grants; -1: none. */
  txRing = -1;
  rxRing = -1;
  txRingRef = -1;
  rxRingRef = -1;
  port = 0;
  /** Our private producer and consumer of the TX ring. */
  reqProd = 0;
  rspCons = 0;
  readonly tally: TxTally = { okay: 0, error: 0, null: 0, other: 0 };
  readonly #extraKeys = new Set<string>();

  constructor(dom: Domain, xs: XsClient, devid: number) {
    this.dom = dom;
    this.xs = xs;
    this.devid = devid;
    this.dir = vifFrontendPath(dom.domid, devid);
  }

  get u8(): Uint8Array {
    return this.dom.memory.mem.u8;
  }

  /** A key a case wrote by itself: removed at the next disconnect, like connect's extras. */
  forgetAtDisconnect(key: string): void {
    if (!STANDARD_KEYS.includes(key)) this.#extraKeys.add(key);
  }

  /** Reads where the backend is and grants the data pages once. */
  async init(): Promise<void> {
    this.backendDir = await this.xs.read(`${this.dir}/${KEY_BACKEND}`);
    const id = Number(await this.xs.read(`${this.dir}/${KEY_BACKEND_ID}`));
    this.backendId = Number.isInteger(id) && id >= 0 ? id : 0;
    for (let i = 0; i < DATA_PAGES; i++) {
      const p = this.dom.pages.alloc();
      this.dataPages.push(p);
      this.dataRefs.push(this.dom.grants.grantAccess(this.backendId, p, true));
    }
  }

  async backendState(): Promise<XenbusState> {
    return parseXenbusState(await readOrUndefined(this.xs, `${this.backendDir}/${KEY_STATE}`));
  }

  async setState(s: XenbusState | string): Promise<void> {
    await this.xs.write(`${this.dir}/${KEY_STATE}`, String(s));
  }

  /** Polls the backend's state until `ok` or `ms` pass; returns the last state read. */
  async waitBackend(ok: (s: XenbusState) => boolean, ms: number): Promise<XenbusState> {
    const end = Date.now() + ms;
    let s = await this.backendState();
    while (!ok(s) && Date.now() < end) {
      await sleep(5);
      s = await this.backendState();
    }
    return s;
  }

  /**
   * A fresh connection: new ring pages granted, an unbound port, the keys (with `keys`
   * overriding or adding any), then Connected. Returns the backend's state once it settled
   * (Connected, or Closing/Closed when it refused the connection).
   */
  async connect(keys: Record<string, string> = {}, before?: (f: RawFront) => void): Promise<XenbusState> {
    await this.waitBackend((s) => s === XenbusState.InitWait, 3000);
    const txp = this.dom.pages.alloc();
    const rxp = this.dom.pages.alloc();
    this.txRing = txp * PAGE_SIZE;
    this.rxRing = rxp * PAGE_SIZE;
    this.u8.fill(0, this.txRing, this.txRing + PAGE_SIZE);
    this.u8.fill(0, this.rxRing, this.rxRing + PAGE_SIZE);
    this.txRingRef = this.dom.grants.grantAccess(this.backendId, txp, false);
    this.rxRingRef = this.dom.grants.grantAccess(this.backendId, rxp, false);
    this.port = await this.dom.evtchnAllocUnbound(this.backendId);
    this.reqProd = 0;
    this.rspCons = 0;
    before?.(this);
    const all: Record<string, string> = {
      [KEY_TX_RING_REF]: String(this.txRingRef),
      [KEY_RX_RING_REF]: String(this.rxRingRef),
      [KEY_EVENT_CHANNEL]: String(this.port),
      [KEY_REQUEST_RX_COPY]: "1",
      [FEATURE_RX_NOTIFY]: "1",
      [FEATURE_SG]: "1",
      ...keys,
    };
    // Keys a case added beyond the usual ones go at disconnect, so the next case starts clean.
    for (const k of Object.keys(keys)) if (!STANDARD_KEYS.includes(k)) this.#extraKeys.add(k);
    await this.xs.transaction(async (tx) => {
      for (const [k, v] of Object.entries(all)) await tx.write(`${this.dir}/${k}`, v);
    });
    await this.setState(XenbusState.Connected);
    return this.waitBackend((s) => s === XenbusState.Connected || s >= XenbusState.Closing, 3000);
  }

  /**
   * Back to where a new connection can start: Closing, Closed, the ring grants ended (once
   * the backend let go), the port closed, then Initialising so the backend waits again.
   */
  async disconnect(): Promise<void> {
    await this.setState(XenbusState.Closing);
    await this.waitBackend((s) => s >= XenbusState.Closing || s <= XenbusState.InitWait, 3000);
    await this.setState(XenbusState.Closed);
    await this.waitBackend((s) => s === XenbusState.Closed || s <= XenbusState.InitWait, 3000);
    for (const [ref, off] of [
      [this.txRingRef, this.txRing],
      [this.rxRingRef, this.rxRing],
    ] as const) {
      if (ref < 0) continue;
      for (let i = 0; i < 200 && !this.dom.grants.endAccess(ref); i++) await sleep(5);
      this.dom.pages.free(off / PAGE_SIZE);
    }
    this.txRingRef = this.rxRingRef = this.txRing = this.rxRing = -1;
    if (this.port !== 0) await this.dom.evtchnClose(this.port).catch(() => undefined);
    this.port = 0;
    for (const k of this.#extraKeys) await this.xs.rm(`${this.dir}/${k}`).catch(() => undefined);
    this.#extraKeys.clear();
    await this.setState(XenbusState.Initialising);
  }

  /** Byte offset of TX slot `idx` (a free-running index). */
  txSlot(idx: number): number {
    return this.txRing + SRING_HDR_SIZE + (idx & (NET_TX_RING_SIZE - 1)) * NETIF_TX_ENTRY_SIZE;
  }

  /** Writes one request at our producer (not yet published); returns its index. */
  tx(gref: number, offset: number, flags: number, size: number, id = this.reqProd): number {
    const idx = this.reqProd;
    txReqWrite(this.dom.memory.mem, this.txSlot(idx), gref, offset, flags, id & 0xffff, size);
    this.reqProd = (this.reqProd + 1) >>> 0;
    return idx;
  }

  /** An extra-info slot of any type and flags. */
  extra(type: number, flags: number, size = 0, gsoType = 0): number {
    const idx = this.reqProd;
    const at = this.txSlot(idx);
    const u8 = this.u8;
    u8.fill(0, at, at + NETIF_TX_ENTRY_SIZE);
    u8[at] = type;
    u8[at + 1] = flags;
    new DataView(u8.buffer, u8.byteOffset + at).setUint16(2, size, true);
    u8[at + 4] = gsoType;
    this.reqProd = (this.reqProd + 1) >>> 0;
    return idx;
  }

  /** Writes `len` bytes of a broadcast frame into data page `slot` at `offset`. */
  fill(slot: number, offset: number, len: number): void {
    const at = this.dataPages[slot % DATA_PAGES] * PAGE_SIZE + offset;
    const u8 = this.u8;
    const n = Math.min(len, PAGE_SIZE - offset);
    u8.fill(0xff, at, at + 6);
    u8.set([0x00, 0x16, 0x3e, 0x0a, 0xdd, 0x01], at + 6);
    u8[at + 12] = 0x88; // local experimental ethertype: the good guests' stacks ignore it
    u8[at + 13] = 0xb5;
    u8.fill(0xa5, at + 14, at + n);
  }

  /** Publishes req_prod = `value` (our producer by default: a lying one otherwise). */
  publish(value = this.reqProd): void {
    const w = new Uint32Array(this.dom.memory.mem.u8.buffer, this.txRing, 4);
    Atomics.store(w, SRING_REQ_PROD / 4, value >>> 0);
  }

  notify(): number {
    return this.dom.evtchn.send(this.port);
  }

  /** Reads the TX responses published so far (bounded by the ring size), tallying statuses. */
  reap(): number {
    const w = new Uint32Array(this.dom.memory.mem.u8.buffer, this.txRing, 4);
    const prod = Atomics.load(w, SRING_RSP_PROD / 4);
    const dv = new DataView(this.u8.buffer);
    let n = 0;
    while (this.rspCons !== prod && n < NET_TX_RING_SIZE) {
      const st = dv.getInt16(this.txSlot(this.rspCons) + 2, true);
      if (st === NETIF_RSP_OKAY) this.tally.okay++;
      else if (st === NETIF_RSP_ERROR) this.tally.error++;
      else if (st === NETIF_RSP_NULL) this.tally.null++;
      else this.tally.other++;
      this.rspCons = (this.rspCons + 1) >>> 0;
      n++;
    }
    Atomics.store(w, SRING_RSP_EVENT / 4, (this.rspCons + 1) >>> 0);
    return n;
  }

  /** Waits up to `ms` until `want` responses came back since `from` (or the backend left). */
  async awaitResponses(from: number, want: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      this.reap();
      if ((this.rspCons - from) >>> 0 >= want) return;
      await sleep(2);
    }
  }

  /** Sends one valid 60-byte frame: its status tells whether the vif still works. */
  async probe(ms = 1000): Promise<boolean> {
    const before = this.tally.okay;
    const from = this.rspCons;
    this.fill(0, 0, 60);
    this.tx(this.dataRefs[0], 0, 0, 60);
    this.publish();
    this.notify();
    await this.awaitResponses(from, 1, ms);
    return this.tally.okay > before;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

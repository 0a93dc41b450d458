/**
 * The malicious backend's hands, in Domain-0: the victim's two rings mapped and its port
 * bound, with every response word (ids, statuses, offsets, flags, rsp_prod) written by
 * hand, and the victim's RX buffers filled through writable mappings. One RawBack is one
 * connection: `open` asks the victim for a fresh device, `close` unmaps, unbinds and asks
 * it to close, so each case starts and ends clean.
 */
import type { Domain } from "../hv/domain.js";
import type { Mem } from "../wire/mem.js";
import {
  NET_RX_RING_SIZE,
  NET_TX_RING_SIZE,
  NETIF_RX_ENTRY_SIZE,
  NETIF_TX_ENTRY_SIZE,
} from "../wire/xen/netif.js";
import { SRING_HDR_SIZE, SRING_REQ_PROD, SRING_RSP_PROD } from "../wire/xen/sring.js";
import type { VictimCommand, VictimReply } from "./victim.js";

export class RawBack {
  readonly dom: Domain;
  readonly victim: number;
  #handles: number[] = [];
  tx!: Mem;
  rx!: Mem;
  txOff = 0;
  rxOff = 0;
  port = 0;
  /** Our private producers of responses and consumers of requests. */
  txRsp = 0;
  rxRsp = 0;
  readonly #waiters = new Map<string, (r: VictimReply) => void>();

  constructor(dom: Domain, victim: number) {
    this.dom = dom;
    this.victim = victim;
  }

  /** Routes a victim's reply to whoever waits for it. */
  onReply(r: VictimReply): void {
    const w = this.#waiters.get(r.t);
    if (w !== undefined) {
      this.#waiters.delete(r.t);
      w(r);
    }
  }

  ask<T extends VictimReply["t"]>(
    cmd: VictimCommand,
    reply: T,
    ms = 3000,
  ): Promise<Extract<VictimReply, { t: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(reply);
        reject(new Error(`the victim did not answer ${cmd.t} within ${ms} ms`));
      }, ms);
      this.#waiters.set(reply, (r) => {
        clearTimeout(timer);
        resolve(r as Extract<VictimReply, { t: T }>);
      });
      this.dom.post(this.victim, cmd);
    });
  }

  async open(): Promise<void> {
    const r = await this.ask({ t: "nf-open" }, "nf-rings");
    const map = (ref: number): { mem: Mem; off: number } => {
      const h = this.dom.gnt.map(this.victim, ref, false);
      if (h < 0) throw new Error(`map of ring gref ${ref} failed: ${h}`);
      this.#handles.push(h);
      return { mem: this.dom.gnt.mappedMem(h), off: this.dom.gnt.mappedOff(h) };
    };
    const t = map(r.txRef);
    const x = map(r.rxRef);
    this.tx = t.mem;
    this.txOff = t.off;
    this.rx = x.mem;
    this.rxOff = x.off;
    this.port = await this.dom.evtchnBindInterdomain(this.victim, r.port);
    this.dom.evtchn.on(this.port, () => {});
    this.txRsp = 0;
    this.rxRsp = 0;
  }

  async close(): Promise<Extract<VictimReply, { t: "nf-closed" }>> {
    for (const h of this.#handles) this.dom.gnt.unmap(h);
    this.#handles = [];
    if (this.port !== 0) {
      this.dom.evtchn.off(this.port);
      await this.dom.evtchnClose(this.port).catch(() => undefined);
    }
    this.port = 0;
    return this.ask({ t: "nf-close" }, "nf-closed");
  }

  state(): Promise<Extract<VictimReply, { t: "nf-state" }>> {
    return this.ask({ t: "nf-state" }, "nf-state");
  }

  notify(): void {
    this.dom.evtchn.send(this.port);
  }

  txReqProd(): number {
    return Atomics.load(this.tx.u32, (this.txOff + SRING_REQ_PROD) >>> 2);
  }

  rxReqProd(): number {
    return Atomics.load(this.rx.u32, (this.rxOff + SRING_REQ_PROD) >>> 2);
  }

  txSlot(idx: number): number {
    return this.txOff + SRING_HDR_SIZE + (idx & (NET_TX_RING_SIZE - 1)) * NETIF_TX_ENTRY_SIZE;
  }

  rxSlot(idx: number): number {
    return this.rxOff + SRING_HDR_SIZE + (idx & (NET_RX_RING_SIZE - 1)) * NETIF_RX_ENTRY_SIZE;
  }

  /** The id of TX request `idx`. */
  txReqId(idx: number): number {
    return this.tx.u16[(this.txSlot(idx) + 8) >>> 1]!;
  }

  /** Writes a TX response at our producer (not published). */
  txRespond(id: number, status: number): void {
    const at = this.txSlot(this.txRsp);
    this.tx.u16[at >>> 1] = id;
    this.tx.i16[(at + 2) >>> 1] = status;
    this.txRsp = (this.txRsp + 1) >>> 0;
  }

  publishTx(value = this.txRsp): void {
    Atomics.store(this.tx.u32, (this.txOff + SRING_RSP_PROD) >>> 2, value >>> 0);
  }

  /** The id and gref of RX request `idx`. */
  rxReq(idx: number): { id: number; gref: number } {
    const at = this.rxSlot(idx);
    return { id: this.rx.u16[at >>> 1]!, gref: this.rx.u32[(at + 4) >>> 2]! };
  }

  /** Writes an RX response at our producer (not published). */
  rxRespond(id: number, offset: number, flags: number, status: number): void {
    const at = this.rxSlot(this.rxRsp);
    const h = at >>> 1;
    this.rx.u16[h] = id;
    this.rx.u16[h + 1] = offset;
    this.rx.u16[h + 2] = flags;
    this.rx.i16[h + 3] = status;
    this.rxRsp = (this.rxRsp + 1) >>> 0;
  }

  /** An extra-info slot in the RX ring at our producer. */
  rxExtra(type: number, flags: number): void {
    const at = this.rxSlot(this.rxRsp);
    this.rx.u8.fill(0, at, at + NETIF_RX_ENTRY_SIZE);
    this.rx.u8[at] = type;
    this.rx.u8[at + 1] = flags;
    this.rxRsp = (this.rxRsp + 1) >>> 0;
  }

  publishRx(value = this.rxRsp): void {
    Atomics.store(this.rx.u32, (this.rxOff + SRING_RSP_PROD) >>> 2, value >>> 0);
  }

  /** Writes `len` bytes of a frame into the buffer behind `gref` at `offset` (a writable map). */
  fillRx(gref: number, offset: number, len: number): boolean {
    const h = this.dom.gnt.map(this.victim, gref, false);
    if (h < 0) return false;
    const m = this.dom.gnt.mappedMem(h);
    const at = this.dom.gnt.mappedOff(h) + offset;
    const n = Math.max(0, Math.min(len, 4096 - offset));
    m.u8.fill(0xff, at, at + Math.min(6, n));
    if (n >= 14) {
      m.u8.set([0x00, 0x16, 0x3e, 0x0a, 0xdd, 0x02], at + 6);
      m.u8[at + 12] = 0x88;
      m.u8[at + 13] = 0xb5;
      m.u8.fill(0x5a, at + 14, at + n);
    }
    this.dom.gnt.unmap(h);
    return true;
  }
}

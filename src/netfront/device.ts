/**
 * netfront's datapath: the network device a guest stack sits on. The xenbus half hands it
 * each queue's rings and channels (`attachQueue`); the device owns the buffer pools and
 * their grants (tx.ts, rx.ts), picks a TX queue per frame by flow hash (flow-hash.ts), and
 * calls the stack back from event handlers only: `onReceive` for each frame, `onWritable`
 * once room returns after a refused `transmit` (never from inside `transmit`).
 *
 * A backend that breaks the protocol stops its queue at once (it no longer touches the
 * rings) and the xenbus half's FrontFatal is called, from the loop rather than the handler,
 * to reset the vif; the guest goes on.
 *
 * `trusted` (the frontend dir's key, as Linux reads it since XSA-403) picks the RX path: a
 * trusted backend's single-slot frames go up straight from their granted page; an
 * untrusted one's are bounced into private memory first (rx.ts, tx.ts).
 */
import type { Counters } from "../base/counters.js";
import { PvnetError } from "../base/errors.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import type { NetDevice } from "../stack/device.js";
import type { Mem } from "../wire/mem.js";
import { type NetfrontQueueCounter, netfrontQueueCounters } from "./counters.js";
import type { FrontDevice, FrontFatal, FrontQueue, FrontQueueRings, TxSteering } from "./device-api.js";
import { flowHash } from "./flow-hash.js";
import { FrontMcast } from "./mcast.js";
import { FrontRx, type ReceiveFn, type RxMeta } from "./rx.js";
import { FrontTx } from "./tx.js";

export interface NetfrontDeviceOptions {
  /**
   * TX buffers (pages) per queue, at most the ring's size; default the ring's size up to
   * 1024 (4 MiB), as Linux netfront sizes its pools by NET_TX_RING_SIZE: a pool smaller than the ring
   * leaves the sender refused while the backend still works through the batch, and every
   * refusal costs a wake-up each way.
   */
  readonly txBuffers?: number;
  /** RX buffers (pages) posted per queue, at most the ring's size; default as TX. */
  readonly rxBuffers?: number;
  /** Where a protocol violation is logged; default stderr. */
  readonly log?: (line: string) => void;
}

/** Default pool size: a ring of page order 2 (1024 slots) is filled; larger rings are not. */
const DEFAULT_BUFFERS = 1024;

interface Queue {
  readonly index: number;
  readonly tx: FrontTx;
  readonly rx: FrontRx;
  readonly counters: Counters<NetfrontQueueCounter>;
  readonly rings: FrontQueueRings;
  started: boolean;
}

const noReceive: ReceiveFn = () => {};

export class NetfrontDevice implements FrontDevice, NetDevice {
  readonly mac: number;
  readonly mtu: number;
  /** The backend is trusted (netfront's `trusted`): false bounces every frame. */
  readonly trusted: boolean;
  readonly #dom: Domain;
  readonly #txBuffers: number;
  readonly #rxBuffers: number;
  readonly #log: (line: string) => void;
  /** Attached queues by number; a dense prefix once the xenbus half has attached them all. */
  readonly #queues: (Queue | undefined)[] = [];
  #nQueues = 0;
  #steering: TxSteering | null = null;
  /** The queue whose buffer is lent (`txBuffer`), and its number. */
  #lent: FrontTx | null = null;
  #lentQ = 0;
  /** The queue the last lent frame went out on: the next lend comes from its pool. */
  #lastQ = 0;
  #receive: ReceiveFn = noReceive;
  #writable: () => void = () => {};
  readonly #getReceive = (): ReceiveFn => this.#receive;
  #carrier = false;
  readonly #mcast = new FrontMcast();
  #mcastRefusedBefore = 0;
  /** A transmit was refused while the carrier was off. */
  #wantCarrier = false;
  /** GSO type and MSS of the frame being handed to the receive callback. */
  readonly rxMeta: RxMeta = { gsoType: 0, gsoSize: 0 };

  constructor(
    dom: Domain,
    info: { readonly mac: string; readonly mtu: number; readonly trusted?: boolean },
    opts: NetfrontDeviceOptions = {},
  ) {
    this.#dom = dom;
    this.mac = parseMac(info.mac);
    if (!(Number.isInteger(info.mtu) && info.mtu >= 68 && info.mtu <= 65535 - 14))
      throw new PvnetError("EINVAL", `Cannot create netfront device: mtu ${info.mtu} (expected 68..65521)`);
    this.mtu = info.mtu;
    this.trusted = info.trusted ?? true;
    this.#txBuffers = checkCount("txBuffers", opts.txBuffers ?? DEFAULT_BUFFERS);
    this.#rxBuffers = checkCount("rxBuffers", opts.rxBuffers ?? DEFAULT_BUFFERS);
    this.#log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Both ends agree the backend completes blank checksums (queue 0's features). */
  get offloadsChecksum(): boolean {
    return this.#queues[0]?.rings.features.csumOffload ?? false;
  }

  get carrier(): boolean {
    return this.#carrier;
  }

  get queueCount(): number {
    return this.#nQueues;
  }

  /** Queue `q`'s counters (shared memory: `.buffer` may go to another thread). */
  counters(q: number): Counters<NetfrontQueueCounter> | undefined {
    return this.#queues[q]?.counters;
  }

  /** The stack's receive. Called from event handlers only. */
  onReceive(cb: ReceiveFn): void {
    this.#receive = cb;
  }

  /** The stack's onWritable: room is back after a refused transmit. */
  onWritable(cb: () => void): void {
    this.#writable = cb;
  }

  attachQueue(rings: FrontQueueRings, fatal: FrontFatal): FrontQueue {
    const index = rings.queue;
    if (!(Number.isInteger(index) && index >= 0 && index < 1024) || this.#queues[index] !== undefined)
      throw new PvnetError("EINVAL", `Cannot attach netfront queue ${index} (expected a new queue number)`);
    const counters = netfrontQueueCounters();
    let failed = false;
    let halves: { tx: FrontTx; rx: FrontRx } | undefined;
    const onFatal = (reason: string): void => {
      if (failed) return;
      failed = true;
      // The whole queue stops touching its rings, not just the half that saw the violation.
      halves?.tx.halt();
      halves?.rx.halt();
      counters.add("fatal");
      this.#log(`dom${this.#dom.domid}: netfront queue ${index}: ${reason}; disabled`);
      this.#dom.loop.defer(() => fatal(reason));
    };
    const tx = new FrontTx(
      {
        dom: this.#dom,
        ring: rings.tx,
        backDomid: rings.backDomid,
        port: rings.txPort,
        features: rings.features,
        bounce: !this.trusted,
      },
      counters,
      onFatal,
      this.#txBuffers,
    );
    const rx = new FrontRx(
      {
        dom: this.#dom,
        ring: rings.rx,
        backDomid: rings.backDomid,
        port: rings.rxPort,
        bounce: !this.trusted,
        notify: rings.features.rxNotify ?? true,
        headroom: rings.features.xdpHeadroom ?? 0,
        flip: rings.features.rxFlip === true,
      },
      counters,
      onFatal,
      this.#rxBuffers,
      this.#getReceive,
      this.rxMeta,
    );
    halves = { tx, rx };
    const q: Queue = { index, tx, rx, counters, rings, started: false };
    this.#queues[index] = q;
    this.#nQueues = dense(this.#queues);
    return {
      start: () => this.#start(q),
      close: () => this.#close(q),
      poolGrants: () => ({ tx: tx.poolRefs, rx: rx.poolRefs }),
    };
  }

  #start(q: Queue): void {
    if (q.started) return;
    q.started = true;
    const ev = this.#dom.evtchn;
    const { txPort, rxPort } = q.rings;
    if (txPort === rxPort) {
      ev.on(txPort, () => {
        const r = q.rx.poll();
        const t = q.tx.poll();
        return this.#maybeWritable() || r || t;
      });
    } else {
      ev.on(txPort, () => {
        const t = q.tx.poll();
        return this.#maybeWritable() || t;
      });
      ev.on(rxPort, () => q.rx.poll());
    }
    q.rx.start();
  }

  #close(q: Queue): number {
    if (q.index === 0) this.#mcastRefusedBefore += q.tx.mcastRefused;
    if (this.#lent === q.tx) this.#lent = null;
    if (this.#queues[q.index] === q) {
      this.#queues[q.index] = undefined;
      this.#nQueues = dense(this.#queues);
    }
    const ev = this.#dom.evtchn;
    if (q.started) {
      ev.off(q.rings.txPort);
      ev.off(q.rings.rxPort);
    }
    return q.tx.close() + q.rx.close();
  }

  /**
   * Joins the multicast group whose MAC is `mac`: a backend that filters our multicast
   * (multicastControl) is told with an MCAST_ADD, now or once connected; one that does not
   * filter already sends us every group. Kept across reconnects and replayed.
   */
  joinMulticast(mac: number): void {
    if (!this.#mcast.join(mac)) return;
    this.#mcastPump();
  }

  leaveMulticast(mac: number): void {
    if (!this.#mcast.leave(mac)) return;
    this.#mcastPump();
  }

  /** Multicast adds the backend refused (its list was full), over every queue 0 so far. */
  get mcastRefused(): number {
    return this.#mcastRefusedBefore + (this.#queues[0]?.tx.mcastRefused ?? 0);
  }

  #mcastPump(): void {
    const q = this.#queues[0];
    if (!this.#carrier || q === undefined || !q.rings.features.multicastControl) return;
    this.#mcast.sync((type, mac) => q.tx.control(type, mac));
  }

  carrierOn(): void {
    this.#carrier = true;
    // A new connection starts with the backend's list empty: send it ours again.
    this.#mcast.resend();
    this.#mcastPump();
    if (this.#wantCarrier) {
      this.#wantCarrier = false;
      this.#dom.loop.defer(() => this.#writable());
    }
  }

  setSteering(s: TxSteering | null): void {
    this.#steering = s !== null && s.size > 0 ? s : null;
  }

  carrierOff(): void {
    this.#carrier = false;
  }

  transmit(frame: Uint8Array, len: number, flags: number): boolean {
    return this.transmitGso(frame, len, flags, 0, 0);
  }

  /**
   * `transmit` for a GSO frame: `gsoType` XEN_NETIF_GSO_TYPE_TCPV4/6 (0: not GSO) and MSS
   * `gsoSize`, sent as a GSO extra when the backend takes that type (else dropped and counted).
   */
  transmitGso(frame: Uint8Array, len: number, flags: number, gsoType: number, gsoSize: number): boolean {
    const n = this.#nQueues;
    if (!this.#carrier || n === 0) {
      this.#wantCarrier = true;
      return false;
    }
    const q = this.#queues[this.#pick(frame, 0, len, n)];
    if (q === undefined) return false;
    return q.tx.transmit(frame, len, flags, gsoType, gsoSize);
  }

  /** The TX queue for the frame at `frame[at]`: steering's table when programmed, else the flow hash. */
  #pick(frame: Uint8Array, at: number, len: number, n: number): number {
    if (n === 1) return 0;
    let qi = flowHash(frame, len, at) % n;
    const st = this.#steering;
    if (st?.hasher.hash(frame, at, len)) {
      const m = st.mapping[st.hasher.value % st.size];
      if (m < n) qi = m;
    }
    return qi;
  }

  /** The memory lent TX buffers live in: the guest's own (`txBuffer` offsets index it). */
  get txMem(): Mem {
    return this.#dom.memory.mem;
  }

  /**
   * Lends a TX pool buffer to build a frame of at most `maxLen` bytes (one page) in place:
   * returns its byte offset in `txMem`, or -1 when there is none to lend (not connected, ring
   * or pool full: `onWritable` follows; `maxLen` above a page). The buffer comes from the
   * queue the last commit went to (a small buffer for a `maxLen` up to TX_SMALL_BUF, else a
   * page); it is staged when the pools are staged. Until `txCommit` or `txAbort`, asking
   * again returns the same buffer, or a page holding what it held when `maxLen` outgrew it
   * (-1, the lend ended, when there is none). Fill and commit it before returning to the
   * event loop: a disconnect takes the buffer back.
   */
  txBuffer(maxLen: number): number {
    if (this.#lent !== null) {
      // The same buffer, or a page when `maxLen` outgrew a small one (tx.ts lend).
      const again = this.#lent.lend(maxLen);
      if (again < 0) this.#lent = null;
      return again;
    }
    const n = this.#nQueues;
    if (!this.#carrier || n === 0) {
      this.#wantCarrier = true;
      return -1;
    }
    const qi = this.#lastQ < n ? this.#lastQ : 0;
    const tx = this.#queues[qi]?.tx;
    if (tx === undefined) return -1;
    const at = tx.lend(maxLen);
    if (at < 0) return -1;
    this.#lent = tx;
    this.#lentQ = qi;
    return at;
  }

  /**
   * Sends the `len`-byte frame built in the lent buffer with NETTXF_* `flags`; pushed with
   * the batch (the loop flushes after it, or `flush`). With several queues a frame whose flow
   * belongs to another queue is copied there (inside the guest's memory) and the buffer
   * taken back. False when nothing was sent: nothing lent, the vif went down meanwhile (the
   * lend is over), or the flow's queue is full (the buffer stays lent: commit again after
   * `onWritable`, or `txAbort`).
   */
  txCommit(len: number, flags: number): boolean {
    const tx = this.#lent;
    if (tx === null) return false;
    if (tx.broken) {
      this.#lent = null;
      tx.abort();
      return false;
    }
    const n = this.#nQueues;
    if (n > 1 && len >= 0 && len <= PAGE_SIZE) {
      const at = tx.lentAt;
      const mem = this.#dom.memory.mem;
      const qi = this.#pick(mem.u8, at, len, n);
      if (qi !== this.#lentQ) {
        const other = this.#queues[qi]?.tx;
        if (other === undefined || !other.transmit(mem.u8, len, flags, 0, 0, at)) return false;
        this.#lastQ = qi;
        this.#lent = null;
        tx.abort();
        return true;
      }
    }
    this.#lent = null;
    return tx.commit(len, flags);
  }

  /** Takes the lent buffer back unsent. */
  txAbort(): void {
    const tx = this.#lent;
    this.#lent = null;
    tx?.abort();
  }

  /** Flushes every queue's pending batch now (the loop does it after each batch anyway). */
  flush(): void {
    for (let i = 0; i < this.#nQueues; i++) this.#queues[i]?.tx.flush();
  }

  /**
   * Calls the stack's onWritable when a queue that refused a frame has room again; a queue
   * still full asks again once it drains (its refusal re-armed its event).
   */
  /** Tells a refused sender it may go on if a queue has room again; true if it did. */
  #maybeWritable(): boolean {
    let owed = false;
    for (let i = 0; i < this.#nQueues; i++) {
      const tx = this.#queues[i]?.tx;
      if (tx?.wantWritable === true && tx.writableAgain()) owed = true;
    }
    if (owed) this.#writable();
    this.#mcastPump();
    return owed;
  }
}

/** Attached queues counted from 0 up to the first gap. */
function dense(qs: readonly (Queue | undefined)[]): number {
  let n = 0;
  while (n < qs.length && qs[n] !== undefined) n++;
  return n;
}

function checkCount(field: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 1 && v <= 4096))
    throw new PvnetError("EINVAL", `Cannot create netfront device: ${field} ${v} (expected 1..4096)`);
  return v;
}

/** "00:16:3e:01:02:03" as a 48-bit number, first octet most significant. */
export function parseMac(s: string): number {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  if (m === null)
    throw new PvnetError("EINVAL", `Cannot create netfront device: mac ${s} (expected xx:xx:xx:xx:xx:xx)`);
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + Number.parseInt(m[i], 16);
  return v;
}

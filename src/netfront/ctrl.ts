/**
 * netfront's end of the control ring (Linux's netfront has none). netfront sets one up
 * when the backend offers feature-ctrl-ring and the vif runs several queues or wants
 * staging grants, and once the backend is Connected programs it:
 *
 * - steering (several queues): Toeplitz over every hash type the backend computes, a
 *   symmetric key (both directions of a flow hash alike) and a mapping spreading hashes
 *   over the queues; the device then picks each frame's TX queue by the same hash and
 *   table (TxSteering), so a flow's frames and its replies share one queue;
 * - staging grants: each queue's TX and RX pool grants, so the backend maps them once and
 *   copies frames without a grant operation each (netback/staging.ts).
 *
 * Requests go one at a time; each waits for its response (the channel, or a poll when the
 * event is lost) with a deadline. The backend's answers are its word: a response with
 * another id, or none in time, ends the programming (the vif keeps working unsteered,
 * with grant copies). Tables sent are in a page granted for the purpose.
 */
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { RingArea } from "../ring/area.js";
import { FrontRing } from "../ring/front.js";
import { privateMem } from "../wire/mem.js";
import { RssHasher, symmetricRssKey } from "../wire/net/rss.js";
import {
  ctrlReqWrite,
  ctrlRspData,
  ctrlRspId,
  ctrlRspStatus,
  XEN_NETIF_CTRL_ENTRY_SIZE,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_STATUS_SUCCESS,
  XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
  XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRLF_GREF_readonly,
  XEN_NETIF_GREF_SIZE,
} from "../wire/xen/netif-ctrl.js";
import type { FrontQueue, TxSteering } from "./device-api.js";
import { DeferredGrants } from "./pool-grants.js";

/** How long one request waits for its response. */
const CTRL_TIMEOUT_MS = 2000;
const CTRL_POLL_MS = 5;
/** Mapping entries netfront programs (at most what the backend takes). */
const MAPPING_WANT = 128;

export interface CtrlProgramResult {
  /** The steering the device now uses, or null. */
  readonly steering: TxSteering | null;
  /** Grants the backend staged, over every queue. */
  readonly staged: number;
  /** Why programming stopped early, if it did. */
  readonly error?: string;
}

/**
 * The steering netfront programs: a symmetric key, the backend's hash types (`flags`), and
 * a table of up to `backendSize` entries spreading hashes round-robin over `queues`.
 */
export function steeringFor(queues: number, flags: number, backendSize: number): TxSteering {
  const n = Math.max(0, Math.min(backendSize, MAPPING_WANT, PAGE_SIZE / 4));
  const hasher = new RssHasher();
  hasher.setKey(symmetricRssKey(40));
  hasher.flags = flags & 0xf;
  const mapping = new Uint32Array(Math.max(1, n));
  for (let i = 0; i < n; i++) mapping[i] = i % queues;
  return { hasher, mapping, size: n };
}

export class NetfrontCtrl {
  readonly ref: number;
  readonly port: number;
  readonly #dom: Domain;
  readonly #ring: FrontRing;
  readonly #pages: number[];
  readonly #tableRef: number;
  readonly #rsp = privateMem(XEN_NETIF_CTRL_ENTRY_SIZE);
  #wake: (() => void) | null = null;
  #nextId = 1;
  #closed = false;

  private constructor(dom: Domain, port: number, pages: number[], refs: number[]) {
    this.#dom = dom;
    this.port = port;
    this.#pages = pages;
    this.ref = refs[0]!;
    this.#tableRef = refs[1]!;
    this.#ring = FrontRing.init(
      new RingArea(dom.memory.mem, [pages[0]! * PAGE_SIZE], XEN_NETIF_CTRL_ENTRY_SIZE),
    );
    dom.evtchn.on(port, () => {
      const w = this.#wake;
      this.#wake = null;
      w?.();
      return w !== null;
    });
  }

  /** The ring page, a table page, their grants and an unbound port for `backDomid`. */
  static async open(dom: Domain, backDomid: number): Promise<NetfrontCtrl> {
    const pages = dom.pages.allocMany(2);
    if (pages === null) throw new RangeError(`Domain ${dom.domid} has no pages for a control ring`);
    const refs: number[] = [];
    for (const p of pages) {
      dom.memory.mem.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
      const r = dom.grants.grantAccess(backDomid, p, false);
      if (r < 0) {
        for (const x of refs) dom.grants.endAccess(x);
        for (const q of pages) dom.pages.free(q);
        throw new RangeError("grant table full");
      }
      refs.push(r);
    }
    let port: number;
    try {
      port = await dom.evtchnAllocUnbound(backDomid);
    } catch (e) {
      for (const x of refs) dom.grants.endAccess(x);
      for (const q of pages) dom.pages.free(q);
      throw e;
    }
    return new NetfrontCtrl(dom, port, pages, refs);
  }

  /** One request, answered: its status and data; null when no response came in time. */
  async request(type: number, d0 = 0, d1 = 0, d2 = 0): Promise<{ status: number; data: number } | null> {
    if (this.#closed) return null;
    const ring = this.#ring;
    const id = this.#nextId++ & 0xffff;
    const at = ring.beginRequest();
    ctrlReqWrite(ring.wmem, at, id, type, d0, d1, d2);
    ring.endRequest();
    if (ring.pushRequestsAndCheckNotify()) this.#dom.evtchn.send(this.port);
    const deadline = Date.now() + CTRL_TIMEOUT_MS;
    for (;;) {
      // Closed while waiting: the ring page may be freed and reused already.
      if (this.#closed) return null;
      const n = ring.copyResponses(this.#rsp, 0, 1);
      if (n < 0) return null;
      if (n === 1) {
        if (ctrlRspId(this.#rsp, 0) !== id) return null;
        return { status: ctrlRspStatus(this.#rsp, 0), data: ctrlRspData(this.#rsp, 0) };
      }
      if (ring.finalCheckForResponses()) continue;
      if (this.#closed || Date.now() > deadline) return null;
      await new Promise<void>((resolve) => {
        const t = this.#dom.timers.after(CTRL_POLL_MS, () => {
          this.#wake = null;
          resolve();
        });
        this.#wake = () => {
          this.#dom.timers.cancel(t);
          resolve();
        };
      });
    }
  }

  /**
   * Programs steering over `queues.length` queues (when more than one) and stages the
   * queues' pool grants (when `staging`). Never throws for what the backend answers.
   */
  async program(queues: readonly FrontQueue[], staging: boolean): Promise<CtrlProgramResult> {
    const nq = queues.length;
    let steering: TxSteering | null = null;
    let error: string | undefined;
    if (nq > 1) {
      const r = await this.#steer(nq);
      if (typeof r === "string") error = r;
      else steering = r;
    }
    let staged = 0;
    if (staging && error === undefined) {
      for (let q = 0; q < nq && error === undefined; q++) {
        const r = await this.#stage(q, queues[q]!);
        if (typeof r === "string") error = r;
        else staged += r;
      }
    }
    return error === undefined ? { steering, staged } : { steering, staged, error };
  }

  async #ok(what: string, type: number, d0 = 0, d1 = 0, d2 = 0): Promise<number | string> {
    const r = await this.request(type, d0, d1, d2);
    if (r === null) return `${what}: no response`;
    if (r.status !== XEN_NETIF_CTRL_STATUS_SUCCESS) return `${what}: status ${r.status}`;
    return r.data;
  }

  async #steer(nq: number): Promise<TxSteering | string> {
    const flags = await this.#ok("GET_HASH_FLAGS", XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS);
    if (typeof flags === "string") return flags;
    const size = await this.#ok("GET_HASH_MAPPING_SIZE", XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE);
    if (typeof size === "string") return size;
    const st = steeringFor(nq, flags, size);
    const { hasher, mapping } = st;
    const n = st.size;
    const u8 = this.#dom.memory.mem.u8;
    const table = this.#pages[1]! * PAGE_SIZE;
    const steps: [string, number, number, number, number, (() => void)?][] = [
      [
        "SET_HASH_ALGORITHM",
        XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
        XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
        0,
        0,
      ],
      ["SET_HASH_FLAGS", XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, hasher.flags, 0, 0],
      [
        "SET_HASH_KEY",
        XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
        this.#tableRef,
        hasher.keyLen,
        0,
        () => u8.set(hasher.key.subarray(0, hasher.keyLen), table),
      ],
      ["SET_HASH_MAPPING_SIZE", XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, n, 0, 0],
      [
        "SET_HASH_MAPPING",
        XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
        this.#tableRef,
        n,
        0,
        () => u8.set(new Uint8Array(mapping.buffer, 0, n * 4), table),
      ],
    ];
    for (const [what, type, d0, d1, d2, fill] of steps) {
      // The table page is ours only until close (then freed once the backend lets go).
      if (this.#closed) return "closed";
      fill?.();
      const r = await this.#ok(what, type, d0, d1, d2);
      if (typeof r === "string") return r;
    }
    return st;
  }

  async #stage(q: number, queue: FrontQueue): Promise<number | string> {
    const pools = queue.poolGrants?.();
    if (pools === undefined) return 0;
    const max = await this.#ok("GET_GREF_MAPPING_SIZE", XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, q);
    if (typeof max === "string") return max;
    const mem = this.#dom.memory.mem;
    const table = this.#pages[1]! * PAGE_SIZE;
    const perPage = PAGE_SIZE / XEN_NETIF_GREF_SIZE;
    const all: [number, boolean][] = [];
    for (const r of pools.tx) if (r >= 0) all.push([r, true]);
    for (const r of pools.rx) if (r >= 0) all.push([r, false]);
    const want = Math.min(all.length, max);
    // One page of list per request: a pool larger than 512 grants takes several.
    let done = 0;
    while (done < want) {
      if (this.#closed) return "closed";
      const n = Math.min(perPage, want - done);
      for (let i = 0; i < n; i++) {
        const [ref, readonly] = all[done + i]!;
        const at = table + i * XEN_NETIF_GREF_SIZE;
        mem.u32[at >>> 2] = ref;
        mem.u16[(at + 4) >>> 1] = readonly ? XEN_NETIF_CTRLF_GREF_readonly : 0;
        mem.u16[(at + 6) >>> 1] = 0;
      }
      const r = await this.#ok(
        "ADD_GREF_MAPPING",
        XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
        q,
        this.#tableRef,
        n,
      );
      if (typeof r === "string") return r;
      done += n;
    }
    return done;
  }

  /** Stops waiting, closes the channel and ends the pages' grants (deferred while mapped). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#wake = null;
    this.#dom.evtchn.off(this.port);
    this.#dom.evtchnClose(this.port).catch(() => undefined); // already closed is closed
    const d = DeferredGrants.of(this.#dom);
    d.end(this.ref, this.#pages[0]!);
    d.end(this.#tableRef, this.#pages[1]!);
  }
}

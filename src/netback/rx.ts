/**
 * netback RX for one queue: frames from the switch into pages the guest posted (RX is the
 * guest's view: frames it receives).
 *
 * Each frame is grant-copied straight from where it lies: a fragment the sender's netback
 * has mapped is copied from the sender's grant (GNTCOPY_source_gref, as Linux's RX copies
 * from a foreign page), a fragment in Domain-0's own pages by frame number; anything else
 * (a netmap port's buffer, the backlog) is first gathered into Domain-0 scratch pages. The
 * guest's requests (id, gref) are copied out of the ring once and used from the copy.
 *
 * What the guest negotiated decides the shape: one slot per 4 KiB page with NETRXF_more_data
 * when it has feature-sg (one slot only otherwise), a GSO extra slot after the first when
 * it takes that GSO type, else software segmentation (gso-segment.ts, checksums filled);
 * NETRXF_csum_blank|data_validated when the sender's frame had a blank checksum and the
 * guest takes that, else the checksum is completed here.
 *
 * When the frontend configured hashing over the control ring, each frame it can hash
 * carries a HASH extra-info slot (after the GSO one, if any) with its Toeplitz value and
 * type, as Linux's netback delivers it.
 *
 * When every buffer a frame takes is a grant the frontend staged writable (ctrl.ts), the
 * frame is copied into the standing mappings with plain copies and no grant operation.
 *
 * A batch from the switch (`deliverBatch`) is placed in one pass where its frames are
 * plain (one slot, no GSO, no extra slot, no checksum to complete) and the guest's ring
 * shows no backlog: one look at req_prod and one copy of the requests for the batch, then
 * per frame a plain copy into a staged buffer (grant copies into one not staged, gathered
 * for the run into one call) and its response, in ring order. Anything else takes the
 * frame-by-frame path, in order.
 *
 * A guest that posts too few buffers gets its frames queued in a byte-bounded backlog of
 * Domain-0 memory, drained when it posts (its RX event); past the bound frames are dropped
 * and counted. The switch never waits. Responses are pushed once per batch (`flush`, on the
 * switch's kick), with a notification only when rsp_event asks, held to the end of the
 * TX run that delivered them (notify-hold.ts).
 */
import type { Counters } from "../base/counters.js";
import { PAGE_SHIFT, PAGE_SIZE } from "../hv/memory.js";
import type { BackRing } from "../ring/back.js";
import { ringErrorText } from "../ring/errors.js";
import { NO_GRANT, VALE_F_CSUM_BLANK, VALE_F_DATA_VALID, ValeFrags } from "../vale/frags.js";
import { VALE_FRAGS_BATCH } from "../vale/switch.js";
import { copyBytes } from "../wire/copy.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { ETH_HLEN, ETH_P_IPV6 } from "../wire/net/ethernet.js";
import { gsoSegment } from "../wire/net/gso-segment.js";
import { etherType, fillL4Checksum } from "../wire/net/l4-checksum.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_okay,
  GNTTAB_COPY_SIZE,
  gcopyStatus,
  gcopyWrite,
} from "../wire/xen/grant.js";
import {
  extraGsoWrite,
  extraHashWrite,
  extraXdpWrite,
  NETIF_RSP_ERROR,
  NETIF_RX_ENTRY_SIZE,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETRXF_extra_info,
  NETRXF_more_data,
  rxReqGref,
  rxReqId,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_NR_SLOTS_MIN,
} from "../wire/xen/netif.js";
import type { VifQueueCounter } from "./counters.js";
import type { VifHash } from "./hash.js";
import { type HeldNotify, type NotifyHold, notifyHoldOf } from "./notify-hold.js";
import { writeRxResponse } from "./rsp-write.js";
import { RxFlip } from "./rx-flip.js";
import { RxPoll } from "./rx-poll.js";
import { LIN_BYTES, type RxScratch } from "./scratch.js";
import type { StagingTable } from "./staging.js";
import type { BackFeatures } from "./vif-api.js";
import type { VifDomain } from "./vif-domain.js";

export const RX_BACKLOG_BYTES_DEFAULT = 256 * 1024;

/** Most grant-copy ops one frame takes: a cut at every source page, destination page and fragment. */
const MAX_OPS = 3 * (XEN_NETIF_NR_SLOTS_MIN + 2) + 64;
const MAX_SLOTS = XEN_NETIF_NR_SLOTS_MIN + 1;
/**
 * Grant copies one run of plain frames gathers before it makes them: room for a frame's
 * worst case (a cut at every fragment and source page: 2 per fragment and one) several times.
 */
const RUN_OPS = 4 * VALE_FRAGS_BATCH;

const PLACED = 0;
const NO_ROOM = 1;
const DROPPED = 2;

export interface RxQueueOptions {
  /** Bytes of frames queued for a guest that posts too few buffers. */
  backlogBytes: number;
  /** The queue's staged grants (null: every frame is grant-copied). */
  staging?: StagingTable | null;
  /** The vif's hash configuration: frames get a HASH extra while it is active. */
  hash?: VifHash | null;
}

export class NetbackRx implements HeldNotify {
  readonly #dom: VifDomain;
  readonly #ring: BackRing;
  readonly #port: number;
  readonly #front: number;
  readonly #feat: BackFeatures;
  readonly #c: Float64Array;
  readonly #sc: RxScratch;
  readonly #fatal: (reason: string) => void;
  readonly #dmem: Mem;
  readonly #req = privateMem(MAX_SLOTS * NETIF_RX_ENTRY_SIZE);
  /** deliverBatch: the requests for a run of plain frames, copied from the ring at once. */
  readonly #reqRun = privateMem(VALE_FRAGS_BATCH * NETIF_RX_ENTRY_SIZE);
  /** The run's grant copies, the frame each is for, and per frame its flags and a failed copy. */
  readonly #runOps = privateMem(RUN_OPS * GNTTAB_COPY_SIZE);
  readonly #runOpFrame = new Uint8Array(RUN_OPS);
  readonly #runFlags = new Int32Array(VALE_FRAGS_BATCH);
  readonly #runBad = new Uint8Array(VALE_FRAGS_BATCH);
  readonly #ops = privateMem(MAX_OPS * GNTTAB_COPY_SIZE);
  /** Per op: which data slot it fills. */
  readonly #opSlot = new Uint8Array(MAX_OPS);
  readonly #slotBad = new Uint8Array(MAX_SLOTS);
  readonly #slotLen = new Int32Array(MAX_SLOTS);
  /** Per data slot of the frame being placed: its staging table slot. */
  readonly #stg = new Int32Array(MAX_SLOTS);
  readonly #staging: StagingTable | null;
  readonly #hash: VifHash | null;
  /** The frame being placed carries a HASH extra (its value and type in #hash.hasher). */
  #withHash = false;
  /** A frame in the scratch or the backlog, as fragments. */
  readonly #one: ValeFrags;
  readonly #backlog: Backlog;
  readonly #cPkts: number;
  readonly #cBytes: number;
  readonly #cDrop: number;
  readonly #cGrantErr: number;
  readonly #cEvtSent: number;
  readonly #cCopyOps: number;
  readonly #cFixup: number;
  #dead = false;
  /** The guest asked to be notified of responses already pushed: the notification is held. */
  #owed = false;
  /** rsp_prod before the push that made the notification owed. */
  #owedFrom = 0;
  readonly #hold: NotifyHold;
  /** req_prod at the last RX event that brought buffers (see #posted). */
  #reqProdSeen = 0;
  /** xdp-headroom: bytes left free before the frame in every buffer (xdp-headroom.ts). */
  #headroom: number;
  /** A frontend without feature-rx-notify: frames waiting look for buffers on a timer. */
  readonly #poll: RxPoll | null;
  /** request-rx-copy=0: frames go by page transfer (null when not negotiated). */
  readonly #flip: RxFlip | null;

  constructor(
    dom: VifDomain,
    ring: BackRing,
    port: number,
    frontDomid: number,
    features: BackFeatures,
    counters: Counters<VifQueueCounter>,
    scratch: RxScratch,
    opts: RxQueueOptions,
    fatal: (reason: string) => void,
  ) {
    this.#dom = dom;
    this.#ring = ring;
    this.#reqProdSeen = ring.reqCons;
    this.#port = port;
    this.#front = frontDomid;
    this.#feat = features;
    this.#c = counters.f64;
    this.#cPkts = counters.slot("tx_packets");
    this.#cBytes = counters.slot("tx_bytes");
    this.#cDrop = counters.slot("tx_dropped");
    this.#cGrantErr = counters.slot("grant_errors");
    this.#cEvtSent = counters.slot("evt_sent");
    this.#cCopyOps = counters.slot("gnt_copy_ops");
    this.#cFixup = counters.slot("rx_gso_checksum_fixup");
    this.#sc = scratch;
    this.#fatal = fatal;
    this.#dmem = dom.memory.mem;
    this.#one = new ValeFrags(this.#dmem);
    this.#backlog = new Backlog(opts.backlogBytes);
    this.#staging = opts.staging ?? null;
    this.#hash = opts.hash ?? null;
    this.#poll = features.rxNotify ? null : new RxPoll(dom.timers, () => this.#polled());
    this.#headroom = features.xdpHeadroom ?? 0;
    this.#flip = features.rxFlip === true ? RxFlip.create(dom) : null;
    this.#hold = notifyHoldOf(dom);
  }

  /** The frontend reconfigured its headroom: frames placed from now on use it. */
  setXdpHeadroom(headroom: number): void {
    this.#headroom = headroom;
  }

  /** The poll timer: look for buffers as a notify would have said; again while frames wait. */
  #polled(): void {
    this.kick();
    if (this.#backlog.count > 0 && !this.#dead) this.#poll?.arm();
  }

  /** Frames waiting in the backlog, and their bytes. */
  get backlogFrames(): number {
    return this.#backlog.count;
  }

  get backlogBytes(): number {
    return this.#backlog.used;
  }

  /** Takes a frame from the switch: delivered or queued (true), or dropped and counted. */
  deliver(f: ValeFrags): boolean {
    if (this.#dead) return false;
    if (this.#backlog.count > 0) this.#drain();
    if (f.total < ETH_HLEN || f.total > LIN_BYTES) return this.#drop();
    const feat = this.#feat;
    const gso = f.gsoType;
    const v6 = this.#isV6(f);
    const blank = (f.flags & VALE_F_CSUM_BLANK) !== 0;
    const csumOk = feat.csumOffload && (!v6 || feat.ipv6CsumOffload);
    let flags = 0;
    if (blank && csumOk) flags = NETRXF_csum_blank | NETRXF_data_validated;
    else if ((f.flags & VALE_F_DATA_VALID) !== 0) flags = NETRXF_data_validated;
    if (gso !== 0) {
      const takes =
        feat.sg &&
        csumOk &&
        ((gso === XEN_NETIF_GSO_TYPE_TCPV4 && feat.gsoTcpv4) ||
          (gso === XEN_NETIF_GSO_TYPE_TCPV6 && feat.gsoTcpv6));
      if (takes) return this.#emit(f, flags, gso, f.gsoSize);
      return this.#segment(f);
    }
    if (blank && !csumOk) {
      const one = this.#linear(f);
      if (!fillL4Checksum(this.#dmem.u8, this.#sc.lin, f.total)) return this.#drop();
      this.#c[this.#cFixup]++;
      return this.#emit(one, 0, 0, 0);
    }
    return this.#emit(f, flags, 0, 0);
  }

  /**
   * Takes frames `frames[idx[at + k]]`, k in [0, n), in order (see the file's comment);
   * `taken[k]` says whether each was delivered or queued (as `deliver` returns).
   */
  deliverBatch(
    frames: readonly ValeFrags[],
    idx: Uint16Array,
    at: number,
    n: number,
    taken: Uint8Array,
  ): void {
    const plainOk = this.#plainOk();
    let k = 0;
    while (k < n) {
      // Frames waiting in the backlog go first, in order: place what the guest has buffers
      // for, and only if some still wait do these follow them there.
      if (plainOk && this.#backlog.count > 0) this.#drain();
      if (!plainOk || this.#dead || this.#backlog.count > 0) {
        for (; k < n; k++) taken[k] = this.deliver(frames[idx[at + k]]) ? 1 : 0;
        return;
      }
      let run = 0;
      const most = Math.min(n - k, VALE_FRAGS_BATCH);
      while (run < most && this.#plain(frames[idx[at + k + run]])) run++;
      if (run === 0) {
        taken[k] = this.deliver(frames[idx[at + k]]) ? 1 : 0;
        k++;
        continue;
      }
      const placed = this.#placeRun(frames, idx, at + k, run, taken, k);
      // No buffer for the rest of the run: `deliver` queues them (or drops, counted).
      for (let j = placed; j < run; j++) taken[k + j] = this.deliver(frames[idx[at + k + j]]) ? 1 : 0;
      k += run;
    }
  }

  /** Whether frames may go a request each, no extras (no flip, headroom or hash). */
  #plainOk(): boolean {
    return this.#feat.rxFlip !== true && this.#headroom === 0 && this.#hash?.active !== true;
  }

  /** One slot, no GSO, no checksum to complete here: what #placeRun takes. */
  #plain(f: ValeFrags): boolean {
    const total = f.total;
    if (f.gsoType !== 0 || total < ETH_HLEN || total > PAGE_SIZE) return false;
    if ((f.flags & VALE_F_CSUM_BLANK) === 0) return true;
    const feat = this.#feat;
    return feat.csumOffload && (feat.ipv6CsumOffload || !this.#isV6(f));
  }

  /**
   * Places plain frames `frames[idx[base + j]]`, j in [0, run), one request each, taken from
   * the ring together; returns how many found a request (from the first on).
   */
  #placeRun(
    frames: readonly ValeFrags[],
    idx: Uint16Array,
    base: number,
    run: number,
    taken: Uint8Array,
    k0: number,
  ): number {
    const m = this.#takeRun(Math.min(run, this.#requestsPosted()));
    if (m === 0) return 0;
    const req = this.#reqRun;
    const st = this.#staging;
    const c = this.#c;
    const runFlags = this.#runFlags;
    const bad = this.#runBad;
    let bytes = 0;
    let nOps = 0;
    /** Responses written: frames [0, written) are answered. */
    let written = 0;
    for (let j = 0; j < m; j++) {
      const f = frames[idx[base + j]];
      const total = f.total;
      const ff = f.flags;
      const flags =
        (ff & VALE_F_CSUM_BLANK) !== 0
          ? NETRXF_csum_blank | NETRXF_data_validated
          : (ff & VALE_F_DATA_VALID) !== 0
            ? NETRXF_data_validated
            : 0;
      const r = j * NETIF_RX_ENTRY_SIZE;
      const gref = rxReqGref(req, r);
      const sg = st === null ? -1 : st.find(gref);
      taken[k0 + j] = 1;
      bytes += total;
      if (sg < 0 || st!.writable[sg] === 0) {
        // Not staged: grant copies, gathered for the run and made in one call; this frame's
        // response and those after it wait for that call.
        runFlags[j] = flags;
        bad[j] = 0;
        if (nOps + 2 * f.n + 2 > RUN_OPS) nOps = this.#runCopy(nOps);
        nOps = this.#runCopyOps(f, gref, j, nOps);
        continue;
      }
      // #placeStaged for one slot, no extra, no headroom (all this path takes) without its
      // per-slot bookkeeping; a frame in one fragment (all of a small one: netback TX's
      // header copy) is one plain copy.
      if (f.n === 1) copyBytes(st!.mem[sg]!, st!.off[sg], f.mem[0], f.off[0], total);
      else this.#copyStaged(f, 0, sg, total);
      if (written === j) {
        this.#dataResponse(req, r, flags, total);
        written++;
      } else {
        runFlags[j] = flags;
        bad[j] = 0;
      }
    }
    if (nOps > 0) this.#runCopy(nOps);
    // The rest in ring order once every copy is done, as #respond writes them for one slot.
    for (let j = written; j < m; j++) {
      const status = bad[j] === 1 ? NETIF_RSP_ERROR : frames[idx[base + j]].total;
      this.#dataResponse(req, j * NETIF_RX_ENTRY_SIZE, runFlags[j], status);
    }
    c[this.#cPkts] += m;
    c[this.#cBytes] += bytes;
    return m;
  }

  /** Requests the guest has posted and netback not taken (0 after breaking the vif on a bad ring). */
  #requestsPosted(): number {
    const avail = this.#ring.unconsumedRequests();
    if (avail >= 0) return avail;
    this.#broken(`RX ring: ${ringErrorText(avail)}`);
    return 0;
  }

  /** Takes `m` requests for a run (one read each, into #reqRun); returns `m`. */
  #takeRun(m: number): number {
    if (m === 0) return 0;
    this.#ring.copyRequests(this.#reqRun, 0, m);
    this.#withHash = false;
    return m;
  }

  /**
   * Appends the grant copies of plain frame `f` (#placeRun's `j`-th) into the guest's buffer
   * `destGref`, from byte 0 on; returns the run's op count. Bytes the switch does not own as
   * a grant or a Domain-0 page go through the scratch, and then the copies are made at once,
   * before the next frame can reuse it.
   */
  #runCopyOps(f: ValeFrags, destGref: number, j: number, nOps: number): number {
    const dmem = this.#dmem;
    let viaScratch = false;
    for (let i = 0; i < f.n; i++) {
      if (f.domid[i] === NO_GRANT && f.mem[i] !== dmem) {
        f = this.#linear(f);
        viaScratch = true;
        break;
      }
    }
    const ops = this.#runOps;
    const opFrame = this.#runOpFrame;
    const front = this.#front;
    let dOff = 0;
    for (let i = 0; i < f.n; i++) {
      const dom = f.domid[i];
      let off = f.off[i];
      let left = f.len[i];
      // A plain frame fits its one page (#plain), so dOff stays below PAGE_SIZE while bytes are left.
      while (left > 0 && dOff < PAGE_SIZE) {
        const sOff = off & (PAGE_SIZE - 1);
        const len = Math.min(left, PAGE_SIZE - dOff, PAGE_SIZE - sOff);
        const at = nOps * GNTTAB_COPY_SIZE;
        gcopyPart(
          ops,
          at,
          dom,
          dom === NO_GRANT ? off >>> PAGE_SHIFT : f.gref[i],
          sOff,
          destGref,
          front,
          dOff,
          len,
        );
        opFrame[nOps++] = j;
        dOff += len;
        off += len;
        left -= len;
      }
    }
    return viaScratch ? this.#runCopy(nOps) : nOps;
  }

  /** Makes the run's `nOps` grant copies in one call; a failed one marks its frame. Returns 0. */
  #runCopy(nOps: number): number {
    const ops = this.#runOps;
    this.#c[this.#cCopyOps] += nOps;
    if (this.#dom.gnt.copy(ops, 0, nOps) > 0) {
      for (let k = 0; k < nOps; k++) {
        if (gcopyStatus(ops, k * GNTTAB_COPY_SIZE) !== GNTST_okay) {
          this.#runBad[this.#runOpFrame[k]] = 1;
          this.#c[this.#cGrantErr]++;
        }
      }
    }
    return 0;
  }

  /**
   * The guest posted buffers (its RX event): drain the backlog, answer. Returns false when
   * the event brought no buffer and placed no frame (a spurious event, see late-eoi.ts).
   */
  kick(): boolean {
    if (this.#dead) return false;
    const posted = this.#posted();
    const before = this.#backlog.count;
    // Bounded: each look either places frames or finds no new request.
    for (let i = 0; i < 4 && this.#backlog.count > 0; i++) {
      this.#drain();
      if (this.#backlog.count === 0 || !this.#arm()) break;
    }
    this.flush();
    return posted || this.#backlog.count < before;
  }

  /**
   * Whether req_prod moved forward since the last RX event. Buffers frames have already
   * used count: frames placed straight from the switch take what an RX event announces
   * before the event is handled, and such an event is news, not a storm. req_prod can
   * only run one ring ahead of req_cons, so a guest earns at most a ring's worth of these
   * events between frames it is sent.
   */
  #posted(): boolean {
    const ring = this.#ring;
    const avail = ring.unconsumedRequests();
    if (avail < 0) return false;
    const prod = (ring.reqCons + avail) >>> 0;
    const ahead = (prod - this.#reqProdSeen) >>> 0;
    if (ahead === 0 || ahead >= 0x80000000) return false;
    this.#reqProdSeen = prod;
    return true;
  }

  /**
   * Publishes the responses written since the last flush; notifies if the guest asked, at
   * once or, inside a TX run, when the run ends (notify-hold.ts) unless half a ring of
   * frames has gone out since the guest asked.
   */
  flush(): void {
    const ring = this.#ring;
    if (this.#dead || ring.unpushedResponses === 0) return;
    const before = (ring.rspProdPvt - ring.unpushedResponses) >>> 0;
    if (ring.pushResponsesAndCheckNotify() && !this.#owed) {
      this.#owed = true;
      this.#owedFrom = before;
      if (this.#hold.hold(this)) return;
      this.notifyNow();
      return;
    }
    if (this.#owed && (ring.rspProdPvt - this.#owedFrom) >>> 0 >= ring.nrEnts >>> 1) this.notifyNow();
  }

  /** Sends the notification the guest asked for, if one is still owed. */
  notifyNow(): void {
    if (!this.#owed) return;
    this.#owed = false;
    if (this.#dead) return;
    this.#c[this.#cEvtSent]++;
    this.#dom.evtchn.send(this.#port);
  }

  /** Stops: nothing more is written to the ring; queued frames are dropped and counted. */
  close(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#poll?.cancel();
    this.#flip?.close();
    this.#c[this.#cDrop] += this.#backlog.count;
    this.#backlog.clear();
  }

  #drop(): boolean {
    this.#c[this.#cDrop]++;
    return false;
  }

  #isV6(f: ValeFrags): boolean {
    const m = f.mem[0];
    return etherType(m.u8, f.off[0], f.len[0]) === ETH_P_IPV6;
  }

  /** Gathers `f` into the linear scratch; returns it there as one local fragment. */
  #linear(f: ValeFrags): ValeFrags {
    const lin = this.#sc.lin;
    if (f !== this.#one || f.mem[0] !== this.#dmem || f.off[0] !== lin)
      f.copyOut(0, this.#dmem, lin, f.total);
    const one = this.#one;
    const total = f.total;
    one.clear();
    one.push(this.#dmem, lin, total);
    return one;
  }

  /** Software GSO: the frame cut into MSS-sized segments, each checksummed and delivered. */
  #segment(f: ValeFrags): boolean {
    const sc = this.#sc;
    const gsoType = f.gsoType;
    const mss = f.gsoSize;
    const total = f.total;
    this.#linear(f);
    const u8 = this.#dmem.u8;
    const n = gsoSegment(u8, sc.lin, total, gsoType, mss, u8, sc.seg, sc.segLens);
    if (n <= 0) return this.#drop();
    let at = sc.seg;
    let any = false;
    const one = this.#one;
    for (let i = 0; i < n; i++) {
      const len = sc.segLens[i];
      one.clear();
      one.push(this.#dmem, at, len);
      if (this.#emit(one, NETRXF_data_validated, 0, 0)) any = true;
      at += len;
    }
    return any;
  }

  /** Places a frame now, or queues it behind those already waiting. */
  #emit(f: ValeFrags, flags: number, gsoType: number, gsoSize: number): boolean {
    if (this.#backlog.count === 0) {
      const r = this.#place(f, flags, gsoType, gsoSize);
      if (r !== NO_ROOM) return r === PLACED;
    }
    if (!this.#backlog.push(f, flags, gsoType, gsoSize)) return this.#drop();
    if (this.#backlog.count === 1 && this.#arm()) this.#drain();
    if (this.#backlog.count > 0) this.#poll?.arm();
    return true;
  }

  /**
   * Frames wait for buffers: asks the guest to notify at its next posted request
   * (req_event = req_prod + 1, as xenvif_rx_ring_slots_available does); true when some
   * arrived meanwhile (look again rather than wait).
   */
  #arm(): boolean {
    const ring = this.#ring;
    const avail = ring.unconsumedRequests();
    if (avail < 0) return false;
    ring.setReqEvent(ring.reqCons + avail + 1);
    return ring.unconsumedRequests() !== avail;
  }

  /**
   * Places backlogged frames while the guest has buffers for them: runs of plain frames as
   * #placeRun places the switch's (a receiver whose ring is the limit keeps a backlog for
   * as long as the sender outpaces it, and every frame then passes through here).
   */
  #drain(): void {
    const b = this.#backlog;
    const one = this.#one;
    const runs = this.#plainOk();
    while (b.count > 0 && !this.#dead) {
      if (runs && b.plainRun(1) === 1) {
        if (this.#drainRun() === 0) return;
        continue;
      }
      b.peek(one);
      const r = this.#place(one, b.headFlags(), b.headGsoType(), b.headGsoSize());
      if (r === NO_ROOM) return;
      b.pop();
    }
  }

  /**
   * Places the backlog's leading plain frames, one request each, taken from the ring
   * together; returns how many (0: no buffer posted, or the ring broke).
   */
  #drainRun(): number {
    const b = this.#backlog;
    const m = this.#takeRun(b.plainRun(Math.min(this.#requestsPosted(), VALE_FRAGS_BATCH)));
    if (m === 0) return 0;
    const req = this.#reqRun;
    const st = this.#staging;
    const one = this.#one;
    const c = this.#c;
    let bytes = 0;
    for (let j = 0; j < m; j++) {
      b.peek(one);
      const flags = b.headFlags();
      const total = one.total;
      const r = j * NETIF_RX_ENTRY_SIZE;
      const sg = st === null ? -1 : st.find(rxReqGref(req, r));
      if (sg < 0 || st!.writable[sg] === 0) this.#placeCopy(one, req, r, 1, 0, flags, 0, 0);
      else {
        this.#copyStaged(one, 0, sg, total);
        this.#dataResponse(req, r, flags, total);
        bytes += total;
        c[this.#cPkts]++;
      }
      b.pop();
    }
    c[this.#cBytes] += bytes;
    return m;
  }

  /**
   * Grant-copies frame `f` into buffers the guest posted and writes its responses:
   * PLACED, NO_ROOM (too few buffers posted: nothing consumed) or DROPPED (counted).
   */
  #place(f: ValeFrags, flags: number, gsoType: number, gsoSize: number): number {
    const total = f.total;
    // With headroom H each buffer holds data from byte H on (Linux's xenvif_rx_data_slot).
    const head = this.#headroom;
    const room = PAGE_SIZE - head;
    const dataSlots = total <= room ? 1 : Math.ceil(total / room);
    if ((dataSlots > 1 && !this.#feat.sg) || dataSlots > XEN_NETIF_NR_SLOTS_MIN) {
      this.#drop();
      return DROPPED;
    }
    const h = this.#hash;
    this.#withHash = h?.active === true && h.hasher.hash(f.mem[0].u8, f.off[0], f.len[0]);
    // Extra-info slots after the first data slot, in type order as Linux writes them:
    // GSO (1), HASH (4), XDP (5).
    const extra = (gsoType !== 0 ? 1 : 0) + (this.#withHash ? 1 : 0) + (head > 0 ? 1 : 0);
    const need = dataSlots + extra;
    const ring = this.#ring;
    const avail = ring.unconsumedRequests();
    if (avail < 0) {
      this.#broken(`RX ring: ${ringErrorText(avail)}`);
      return DROPPED;
    }
    if (avail < need) return NO_ROOM;
    const req = this.#req;
    ring.copyRequests(req, 0, need);
    if (this.#feat.rxFlip === true) return this.#placeFlip(f, req, dataSlots, extra, flags, gsoType, gsoSize);
    if (this.#staging !== null && this.#allStaged(req, dataSlots, extra))
      return this.#placeStaged(f, req, dataSlots, extra, flags, gsoType, gsoSize);
    return this.#placeCopy(f, req, 0, dataSlots, extra, flags, gsoType, gsoSize);
  }

  /**
   * The grant-copy path: `req` holds the frame's requests (data slots and extras) from byte
   * `reqAt` on.
   */
  #placeCopy(
    f: ValeFrags,
    req: Mem,
    reqAt: number,
    dataSlots: number,
    extra: number,
    flags: number,
    gsoType: number,
    gsoSize: number,
  ): number {
    const total = f.total;
    const head = this.#headroom;
    // Bytes the switch does not own as a grant or a Domain-0 page go through the scratch.
    const dmem = this.#dmem;
    for (let i = 0; i < f.n; i++) {
      if (f.domid[i] === NO_GRANT && f.mem[i] !== dmem) {
        f = this.#linear(f);
        break;
      }
    }
    const ops = this.#ops;
    const front = this.#front;
    let nOps = 0;
    let slot = 0;
    let dOff = head;
    const slotLen = this.#slotLen;
    const slotBad = this.#slotBad;
    slotLen[0] = 0;
    slotBad[0] = 0;
    for (let i = 0; i < f.n; i++) {
      const dom = f.domid[i];
      let off = f.off[i];
      let left = f.len[i];
      while (left > 0) {
        if (dOff === PAGE_SIZE) {
          slot++;
          dOff = head;
          slotLen[slot] = 0;
          slotBad[slot] = 0;
        }
        const sOff = off & (PAGE_SIZE - 1);
        const len = Math.min(left, PAGE_SIZE - dOff, PAGE_SIZE - sOff);
        // Data slot k sits at request k, after the extra slot for k > 0.
        const r = reqAt + (slot === 0 ? 0 : slot + extra) * NETIF_RX_ENTRY_SIZE;
        const at = nOps * GNTTAB_COPY_SIZE;
        const src = dom === NO_GRANT ? off >>> PAGE_SHIFT : f.gref[i];
        gcopyPart(ops, at, dom, src, sOff, rxReqGref(req, r), front, dOff, len);
        this.#opSlot[nOps++] = slot;
        slotLen[slot] += len;
        dOff += len;
        off += len;
        left -= len;
      }
    }
    this.#c[this.#cCopyOps] += nOps;
    if (nOps > 0 && this.#dom.gnt.copy(ops, 0, nOps) > 0) {
      for (let k = 0; k < nOps; k++) {
        if (gcopyStatus(ops, k * GNTTAB_COPY_SIZE) !== GNTST_okay) {
          slotBad[this.#opSlot[k]] = 1;
          this.#c[this.#cGrantErr]++;
        }
      }
    }
    this.#respond(req, reqAt, dataSlots, extra, flags, gsoType, gsoSize, total);
    return PLACED;
  }

  /** Whether every data slot's buffer is a grant staged writable (its slots in #stg). */
  #allStaged(req: Mem, dataSlots: number, extra: number): boolean {
    const st = this.#staging!;
    for (let s = 0; s < dataSlots; s++) {
      const r = (s === 0 ? 0 : s + extra) * NETIF_RX_ENTRY_SIZE;
      const sg = st.find(rxReqGref(req, r));
      if (sg < 0 || st.writable[sg] === 0) return false;
      this.#stg[s] = sg;
    }
    return true;
  }

  /** The staged path: the frame copied page by page into the standing mappings. */
  #placeStaged(
    f: ValeFrags,
    req: Mem,
    dataSlots: number,
    extra: number,
    flags: number,
    gsoType: number,
    gsoSize: number,
  ): number {
    const total = f.total;
    const room = PAGE_SIZE - this.#headroom;
    let from = 0;
    for (let s = 0; s < dataSlots; s++) {
      const len = Math.min(room, total - from);
      this.#copyStaged(f, from, this.#stg[s], len);
      this.#slotLen[s] = len;
      this.#slotBad[s] = 0;
      from += len;
    }
    this.#respond(req, 0, dataSlots, extra, flags, gsoType, gsoSize, total);
    return PLACED;
  }

  /**
   * Copies `len` bytes of `f` from byte `from` into staged buffer `sg`: its data starts at
   * byte H with headroom H, as on the grant-copy path.
   */
  #copyStaged(f: ValeFrags, from: number, sg: number, len: number): void {
    const st = this.#staging!;
    f.copyOut(from, st.mem[sg]!, st.off[sg] + this.#headroom, len);
  }

  /** The flip path: each data slot's bytes go to the guest by page transfer (rx-flip.ts). */
  #placeFlip(
    f: ValeFrags,
    req: Mem,
    dataSlots: number,
    extra: number,
    flags: number,
    gsoType: number,
    gsoSize: number,
  ): number {
    const flip = this.#flip;
    const total = f.total;
    const head = this.#headroom;
    let from = 0;
    for (let s = 0; s < dataSlots; s++) {
      const len = Math.min(PAGE_SIZE - head, total - from);
      const r = (s === 0 ? 0 : s + extra) * NETIF_RX_ENTRY_SIZE;
      const st = flip === null ? -1 : flip.transfer(f, from, len, head, this.#front, rxReqGref(req, r));
      this.#slotLen[s] = len;
      this.#slotBad[s] = st === GNTST_okay ? 0 : 1;
      if (st !== GNTST_okay) this.#c[this.#cGrantErr]++;
      from += len;
    }
    this.#respond(req, 0, dataSlots, extra, flags, gsoType, gsoSize, total);
    return PLACED;
  }

  /**
   * Writes the frame's responses (data slots, the extras after the first) to its requests in
   * `req` from byte `reqAt` on, and counts it.
   */
  #respond(
    req: Mem,
    reqAt: number,
    dataSlots: number,
    extra: number,
    flags: number,
    gsoType: number,
    gsoSize: number,
    total: number,
  ): void {
    const ring = this.#ring;
    const slotLen = this.#slotLen;
    const slotBad = this.#slotBad;
    const head = this.#headroom;
    const first = flags | (dataSlots > 1 ? NETRXF_more_data : 0) | (extra ? NETRXF_extra_info : 0);
    for (let s = 0; s < dataSlots; s++) {
      const r = reqAt + (s === 0 ? 0 : s + extra) * NETIF_RX_ENTRY_SIZE;
      const fl = s === 0 ? first : s + 1 < dataSlots ? NETRXF_more_data : 0;
      this.#dataResponse(req, r, fl, slotBad[s] === 1 ? NETIF_RSP_ERROR : head + slotLen[s]);
      if (s === 0 && gsoType !== 0) {
        const x = ring.beginResponse();
        const more = this.#withHash || head > 0 ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
        extraGsoWrite(ring.wmem, x, more, gsoSize, gsoType);
        ring.endResponse();
      }
      if (s === 0 && this.#withHash) {
        const hs = this.#hash!.hasher;
        const x = ring.beginResponse();
        const more = head > 0 ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
        extraHashWrite(ring.wmem, x, more, hs.type, this.#hash!.algorithm, hs.value);
        ring.endResponse();
      }
      if (s === 0 && head > 0) {
        const x = ring.beginResponse();
        extraXdpWrite(ring.wmem, x, 0, head);
        ring.endResponse();
      }
    }
    this.#c[this.#cPkts]++;
    this.#c[this.#cBytes] += total;
  }

  /**
   * The response to the data slot whose request is at `req[r]`: its id, offset 0, `flags`,
   * and `status` (the bytes, counting the headroom, as Linux writes it; or an error).
   */
  #dataResponse(req: Mem, r: number, flags: number, status: number): void {
    writeRxResponse(this.#ring, rxReqId(req, r), 0, flags, status);
  }

  #broken(reason: string): void {
    this.close();
    this.#fatal(reason);
  }
}

/**
 * Frames waiting for the guest's buffers: a byte ring in Domain-0's private memory (a
 * frame may wrap around its end) and a ring of entries. Bounded by bytes and by entries.
 */
class Backlog {
  readonly size: number;
  readonly #mem: Mem;
  readonly #cap: number;
  readonly #off: Int32Array;
  readonly #len: Int32Array;
  readonly #flags: Int32Array;
  readonly #gsoType: Int32Array;
  readonly #gsoSize: Int32Array;
  #head = 0;
  count = 0;
  #start = 0;
  used = 0;

  constructor(bytes: number) {
    this.size = Math.max(0, Math.floor(bytes)) & ~7;
    this.#mem = privateMem(Math.max(8, this.size));
    this.#cap = (this.size >>> 6) + 16;
    this.#off = new Int32Array(this.#cap);
    this.#len = new Int32Array(this.#cap);
    this.#flags = new Int32Array(this.#cap);
    this.#gsoType = new Int32Array(this.#cap);
    this.#gsoSize = new Int32Array(this.#cap);
  }

  push(f: ValeFrags, flags: number, gsoType: number, gsoSize: number): boolean {
    const len = f.total;
    if (this.count === this.#cap || this.used + len > this.size) return false;
    const at = (this.#start + this.used) % this.size;
    const first = Math.min(len, this.size - at);
    f.copyOut(0, this.#mem, at, first);
    if (first < len) f.copyOut(first, this.#mem, 0, len - first);
    const e = (this.#head + this.count) % this.#cap;
    this.#off[e] = at;
    this.#len[e] = len;
    this.#flags[e] = flags;
    this.#gsoType[e] = gsoType;
    this.#gsoSize[e] = gsoSize;
    this.count++;
    this.used += len;
    return true;
  }

  /** The oldest frame as one or two fragments of the backlog's memory. */
  peek(out: ValeFrags): void {
    const h = this.#head;
    const at = this.#off[h];
    const len = this.#len[h];
    const first = Math.min(len, this.size - at);
    out.clear();
    out.push(this.#mem, at, first);
    if (first < len) out.push(this.#mem, 0, len - first);
  }

  /** How many of the oldest frames, up to `most`, need one slot and no extra (no GSO). */
  plainRun(most: number): number {
    const n = Math.min(most, this.count);
    let e = this.#head;
    for (let j = 0; j < n; j++) {
      if (this.#gsoType[e] !== 0 || this.#len[e] > PAGE_SIZE) return j;
      e = e + 1 === this.#cap ? 0 : e + 1;
    }
    return n;
  }

  headFlags(): number {
    return this.#flags[this.#head];
  }

  headGsoType(): number {
    return this.#gsoType[this.#head];
  }

  headGsoSize(): number {
    return this.#gsoSize[this.#head];
  }

  pop(): void {
    const len = this.#len[this.#head];
    this.#head = (this.#head + 1) % this.#cap;
    this.count--;
    this.used -= len;
    this.#start = (this.#start + len) % this.size;
    if (this.count === 0) this.#start = this.used = 0;
  }

  clear(): void {
    this.#head = this.count = this.#start = this.used = 0;
  }
}

/**
 * One grant-copy op into the guest's granted page `destGref` of domain `front`: from a
 * Domain-0 page (`dom` NO_GRANT, `src` its frame number) or from `src`, a grant of domain `dom`.
 */
function gcopyPart(
  ops: Mem,
  at: number,
  dom: number,
  src: number,
  sOff: number,
  destGref: number,
  front: number,
  dOff: number,
  len: number,
): void {
  if (dom === NO_GRANT)
    gcopyWrite(ops, at, src, DOMID_SELF, sOff, destGref, front, dOff, len, GNTCOPY_dest_gref);
  else
    gcopyWrite(ops, at, src, dom, sOff, destGref, front, dOff, len, GNTCOPY_source_gref | GNTCOPY_dest_gref);
}

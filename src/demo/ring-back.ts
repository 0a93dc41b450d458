/**
 * The demo's driver domain (backend side). For each guest that connects it maps the ring
 * pages read-write and the frame buffers read-only, once (persistent grants: the buffer
 * pool is mapped for the life of the connection, so a frame costs one copy and no grant
 * operation), binds the guest's event channel, and then serves the ring: each request is
 * copied into private memory, validated, its frame copied out of the guest's buffer into a
 * buffer of our own, and answered. A guest that breaks the ring protocol is disconnected
 * alone, with a logged reason.
 */
import { RateLog } from "../base/ratelog.js";
import type { Domain } from "../hv/domain.js";
import { type DomainMemory, PAGE_SIZE } from "../hv/memory.js";
import { RingArea } from "../ring/area.js";
import { BackRing } from "../ring/back.js";
import { ringErrorText } from "../ring/errors.js";
import { copyBytes } from "../wire/copy.js";
import { type Mem, privateMem } from "../wire/mem.js";
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETIF_RX_ENTRY_SIZE,
  NETIF_TX_ENTRY_SIZE,
  txReqGref,
  txReqId,
  txReqOffset,
  txReqSize,
  txRspWrite,
} from "../wire/xen/netif.js";
import { EchoDelivery } from "./echo-back.js";
import {
  BUF_SIZE,
  backCounters,
  type ConnectMsg,
  type DoneReport,
  type RingPairArgs,
  SEQ_OFF,
} from "./ring-proto.js";

/** Grant refs a guest may name: its grant table's size bounds them anyway. */
const MAX_GREF = 1 << 14;
/**
 * Buffer pages one connect may have mapped: one buffer per TX slot, two to a page, on the
 * largest ring (order 4, 4096 slots). Every mapping takes a handle from Domain-0's one pool,
 * so a guest gets no more than its ring can use.
 */
const MAX_BUF_REFS = 2048;

interface Conn {
  domid: number;
  port: number;
  ring: BackRing;
  echo: EchoDelivery | null;
  handles: number[];
  /** Byte offset of each mapped buffer page in the guest's memory, by gref; -1 if none. */
  pageOff: Int32Array;
  gmem: Mem;
  expect: number;
  dead: boolean;
}

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = raw as RingPairArgs;
  const c = backCounters(a.backCounters);
  const cRx = c.slot("rxFrames");
  const cRxB = c.slot("rxBytes");
  const cSeq = c.slot("seqErrors");
  const cBad = c.slot("badRequests");
  const cNotify = c.slot("notifies");
  const f = c.f64;
  const log = new RateLog();
  const mem = dom.memory.mem;
  // Frames stay in our buffers until the batch's echo copy has run: at least a batch of them.
  const OWN_BUFS = 2 ** Math.ceil(Math.log2(Math.max(64, a.batch)));
  const own = dom.pages.allocMany(OWN_BUFS / 2);
  if (own === null) throw new RangeError("Domain 0 has too little memory for its buffers");
  const ownOff = Int32Array.from(
    { length: OWN_BUFS },
    (_, i) => own[i >> 1] * PAGE_SIZE + (i & 1) * BUF_SIZE,
  );
  let nextOwn = 0;
  const req = privateMem(a.batch * NETIF_TX_ENTRY_SIZE);
  const conns = new Map<number, Conn>();
  // Domains whose connect is between its first check and its last await: a second connect
  // from the same domain is refused at once instead of mapping everything again.
  const starting = new Set<number>();
  const cMaps = c.slot("maps");
  const cConns = c.slot("conns");
  const counted = (): void => {
    f[cMaps] = dom.gnt.liveMappings;
    f[cConns] = conns.size;
  };

  /**
   * `gone`: the guest is dead and its mappings ended with it; its handles are not ours.
   * `orderly`: the guest said it was leaving; nothing went wrong, so nothing is logged.
   */
  const disconnect = (cn: Conn, why: string, gone = false, orderly = false): void => {
    if (cn.dead) return;
    cn.dead = true;
    if (!orderly) log.log(`vif${cn.domid}`, `dom0: guest ${cn.domid}: ${why}; disconnected`);
    dom.evtchn.off(cn.port);
    // Our end of the channel goes too (as netback unbinds its irq): a later connect binds anew.
    dom.evtchnClose(cn.port).catch(() => undefined);
    if (!gone) {
      for (const h of cn.handles) dom.gnt.unmap(h);
      dom.post(cn.domid, { t: "disconnected", reason: why });
    }
    conns.delete(cn.domid);
    counted();
  };

  const serve = (cn: Conn): void => {
    if (cn.dead) return;
    const ring = cn.ring;
    const gmem = cn.gmem;
    const dv = mem.dv;
    let budget = a.budget;
    for (;;) {
      const n = ring.copyRequests(req, 0, a.batch);
      if (n < 0) {
        c.add("protoErrors");
        disconnect(cn, ringErrorText(n));
        return;
      }
      if (n === 0) {
        if (ring.finalCheckForRequests()) continue;
        return;
      }
      for (let i = 0; i < n; i++) {
        const at = i * NETIF_TX_ENTRY_SIZE;
        const gref = txReqGref(req, at);
        const off = txReqOffset(req, at);
        const size = txReqSize(req, at);
        const page = gref < cn.pageOff.length ? cn.pageOff[gref] : -1;
        let status = NETIF_RSP_OKAY;
        if (page < 0 || off + size > PAGE_SIZE || size > BUF_SIZE || size < SEQ_OFF + 4) {
          status = NETIF_RSP_ERROR;
          f[cBad]++;
        } else {
          const dst = ownOff[nextOwn];
          nextOwn = (nextOwn + 1) & (OWN_BUFS - 1);
          copyBytes(mem, dst, gmem, page + off, size);
          cn.echo?.queue(dst, size);
          if (a.verify) {
            if (dv.getUint32(dst + SEQ_OFF) !== cn.expect) f[cSeq]++;
            cn.expect = (cn.expect + 1) >>> 0;
          }
          f[cRx]++;
          f[cRxB] += size;
        }
        const r = ring.beginResponse();
        txRspWrite(ring.wmem, r, txReqId(req, at), status);
        ring.endResponse();
      }
      let notify = ring.pushResponsesAndCheckNotify();
      if (cn.echo !== null) {
        const r = cn.echo.flush();
        if (r < 0) {
          c.add("protoErrors");
          disconnect(cn, `RX ring: ${ringErrorText(r)}`);
          return;
        }
        notify ||= r === 1;
      }
      if (notify) {
        dom.evtchn.send(cn.port);
        f[cNotify]++;
      }
      if (a.count > 0 && f[cRx] === a.count) dom.report({ t: "done", side: "back" } satisfies DoneReport);
      budget -= n;
      if (budget <= 0) {
        dom.loop.defer(() => serve(cn));
        return;
      }
    }
  };

  const connect = async (domid: number, m: unknown): Promise<void> => {
    const why = checkConnect(m);
    if (why !== null) {
      dom.post(domid, { t: "refused", reason: why });
      return;
    }
    const gm = dom.foreign(domid);
    if (gm === undefined || conns.has(domid) || starting.has(domid)) {
      dom.post(domid, { t: "refused", reason: "unknown or already connected domain" });
      return;
    }
    starting.add(domid);
    const handles: number[] = [];
    try {
      let r: string | null;
      try {
        r = await attach(domid, gm, m as ConnectMsg, handles);
      } catch (e) {
        // Nothing a guest sends may throw out of this handler (it would end Domain-0).
        r = `cannot connect: ${(e as Error).message}`;
      }
      if (r === null) return;
      // Mapped but not connected: end what we still own. A guest that died meanwhile took
      // its mappings with it, and its handles may name another guest's mappings by now.
      if (dom.foreign(domid) === gm) for (const h of handles) dom.gnt.unmap(h);
      counted();
      if (r !== "") dom.post(domid, { t: "refused", reason: r });
    } finally {
      starting.delete(domid);
    }
  };

  /**
   * Maps the guest's rings and buffers into `handles`, binds its channel and starts serving:
   * null once connected, else why not ("" when the guest is gone and needs no answer).
   */
  const attach = async (
    domid: number,
    gm: DomainMemory,
    msg: ConnectMsg,
    handles: number[],
  ): Promise<string | null> => {
    const { ringRefs, bufRefs, rxRingRefs, port } = msg;
    const gmem = gm.mem;
    const ringOffs: number[] = [];
    for (const ref of ringRefs) {
      const h = dom.gnt.map(domid, ref, false);
      if (h < 0) return `cannot map ring gref ${ref}: status ${h}`;
      handles.push(h);
      ringOffs.push(dom.gnt.mappedOff(h));
    }
    let maxRef = 0;
    for (const ref of bufRefs) if (ref > maxRef) maxRef = ref;
    const pageOff = new Int32Array(maxRef + 1).fill(-1);
    for (const ref of bufRefs) {
      const h = dom.gnt.map(domid, ref, true);
      if (h < 0) return `cannot map buffer gref ${ref}: status ${h}`;
      handles.push(h);
      pageOff[ref] = dom.gnt.mappedOff(h);
    }
    const ring = BackRing.attach(new RingArea(gmem, ringOffs, NETIF_TX_ENTRY_SIZE));
    if (typeof ring === "number") return ringErrorText(ring);
    let echo: EchoDelivery | null = null;
    if (rxRingRefs.length > 0) {
      const rxOffs: number[] = [];
      for (const ref of rxRingRefs) {
        const h = dom.gnt.map(domid, ref, false);
        if (h < 0) return `cannot map RX ring gref ${ref}: status ${h}`;
        handles.push(h);
        rxOffs.push(dom.gnt.mappedOff(h));
      }
      const rxRing = BackRing.attach(new RingArea(gmem, rxOffs, NETIF_RX_ENTRY_SIZE));
      if (typeof rxRing === "number") return `RX ring: ${ringErrorText(rxRing)}`;
      echo = new EchoDelivery(dom, domid, rxRing, c, a.batch);
    }
    counted();
    let local: number;
    try {
      local = await dom.evtchnBindInterdomain(domid, port);
    } catch (e) {
      return dom.foreign(domid) === gm ? `cannot bind event channel ${port}: ${(e as Error).message}` : "";
    }
    // The only await is behind us: the guest must still be the domain we mapped.
    if (dom.foreign(domid) !== gm) {
      dom.evtchnClose(local).catch(() => undefined);
      return "";
    }
    const cn: Conn = { domid, port: local, ring, echo, handles, pageOff, gmem, expect: 0, dead: false };
    conns.set(domid, cn);
    counted();
    dom.evtchn.on(local, () => serve(cn));
    dom.post(domid, { t: "connected" });
    return null;
  };

  dom.onMessage((from, data) => {
    const t = (data as { t?: unknown } | null)?.t;
    if (t === "connect") void connect(from, data);
    else if (t === "leaving") {
      const cn = conns.get(from);
      if (cn !== undefined) disconnect(cn, "shut down", false, true);
    }
  });
  dom.onDomainDestroyed((domid) => {
    const cn = conns.get(domid);
    if (cn !== undefined) disconnect(cn, "domain destroyed", true);
    counted();
  });
  dom.onPeerClosed((port) => {
    for (const cn of conns.values())
      if (cn.port === port) disconnect(cn, "event channel closed by the guest");
  });
}

/** The connect message comes from an untrusted guest: check its shape before use. */
function checkConnect(m: unknown): string | null {
  const o = m as { ringRefs?: unknown; bufRefs?: unknown; rxRingRefs?: unknown; port?: unknown };
  const isRefs = (v: unknown, max: number): v is number[] =>
    Array.isArray(v) &&
    v.length >= 1 &&
    v.length <= max &&
    v.every((x) => Number.isInteger(x) && x >= 0 && x < MAX_GREF);
  if (!isRefs(o.ringRefs, 16) || (o.ringRefs.length & (o.ringRefs.length - 1)) !== 0)
    return "ringRefs: expected 1, 2, 4, 8 or 16 grant references";
  if (!isRefs(o.bufRefs, MAX_BUF_REFS))
    return `bufRefs: expected 1 to ${MAX_BUF_REFS} grant references below ${MAX_GREF}`;
  const rx = o.rxRingRefs;
  if (!Array.isArray(rx) || (rx.length > 0 && (!isRefs(rx, 16) || (rx.length & (rx.length - 1)) !== 0)))
    return "rxRingRefs: expected none, or 1, 2, 4, 8 or 16 grant references";
  if (!Number.isInteger(o.port) || (o.port as number) <= 0) return "port: expected a positive integer";
  // Each ref is mapped once: a duplicate would take a second handle for the same page.
  const all = [...o.ringRefs, ...o.bufRefs, ...rx];
  if (new Set(all).size !== all.length) return "grant references: expected each ref once";
  return null;
}

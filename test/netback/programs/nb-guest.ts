/**
 * A guest for netback's worker tests, speaking raw netif through TestFront: it grants its
 * rings and buffers, posts the refs to Domain-0 (`connect`), then plays a role:
 * - sender: announces its MAC, then on `go` sends `count` frames following `plan` (frame i
 *   is plan[i % plan.length] with sequence number i) as fast as the ring allows, and
 *   reports `tx-done` once every request is answered;
 * - receiver: keeps its RX ring stocked, checks every frame (bytes against the frame the
 *   sender built, or for segments their checksums) and reports `rx-done` at `expect`;
 * - silent: announces itself but never posts an RX buffer;
 * - evil: announces itself, then on `go` sends a request Linux calls fatal.
 */
import type { Domain } from "../../../src/hv/domain.js";
import type { BackFeatures } from "../../../src/netback/vif-api.js";
import { NETTXF_csum_blank, NETTXF_more_data } from "../../../src/wire/xen/netif.js";
import { buildFrame, checksumsOk, headerLen, MAC_BCAST, macOf, seqOf } from "../frames.js";
import { type RxFrame, type SendOpts, TestFront } from "../front-sim.js";

export interface PlanEntry {
  len: number;
  tcp?: boolean;
  v6?: boolean;
  flags?: number;
  gsoType?: number;
  gsoSize?: number;
  slotBytes?: number;
}

export interface GuestArgs {
  role: "sender" | "receiver" | "silent" | "evil";
  features: BackFeatures;
  /** The other end's domid (its MAC is macOf(peer)). */
  peer: number;
  plan: PlanEntry[];
  count: number;
  /** Receiver: frames (or segments) to wait for. */
  expect: number;
  backlog?: number;
}

export function planFrame(src: number, dst: number, p: PlanEntry, seq: number): Uint8Array {
  return buildFrame({
    dst: macOf(dst),
    src: macOf(src),
    len: Math.max(p.len, headerLen(p)),
    tcp: p.tcp,
    v6: p.v6,
    seq,
    blank: ((p.flags ?? 0) & NETTXF_csum_blank) !== 0,
  });
}

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = raw as GuestArgs;
  const me = dom.domid;
  const front = new TestFront(dom.memory.mem, dom.grants, () => dom.pages.alloc(), 0);
  const port = await dom.evtchnAllocUnbound(0);
  const notify = (): void => {
    dom.evtchn.send(port);
  };
  let go = false;
  let sent = 0;
  let requests = 0;
  let t0 = 0;
  let reported = false;
  const rx = {
    frames: 0,
    bytes: 0,
    bad: 0,
    badWhy: "" as string,
    segments: 0,
    gso: 0,
    flags: {} as Record<number, number>,
  };
  const out: RxFrame[] = [];

  const announce = (): void => {
    front.send(buildFrame({ dst: MAC_BCAST, src: macOf(me), len: 60 }));
    if (front.pushTx()) notify();
  };

  const check = (f: RxFrame): void => {
    rx.flags[f.flags & 3] = (rx.flags[f.flags & 3] ?? 0) + 1;
    if (f.gsoType !== 0) rx.gso++;
    if (f.data.length <= 60 && f.data[0] === 0xff) return; // an announcement
    rx.frames++;
    rx.bytes += f.data.length;
    // Without GSO, TCP frames of the plan arrive cut in segments: only the first carries
    // the sequence number, so segments are checked by their checksums.
    const v6 = f.data[12] === 0x86;
    const tcp = f.data[14 + (v6 ? 6 : 9)] === 6;
    if (tcp && !a.features.gsoTcpv4 && !a.features.gsoTcpv6 && a.plan.some((p) => p.gsoType)) {
      rx.segments++;
      if (!checksumsOk(f.data)) {
        rx.bad++;
        rx.badWhy = `segment of ${f.data.length}: bad checksum`;
      }
      return;
    }
    const seq = seqOf(f.data);
    const p = a.plan[seq % a.plan.length];
    const want = p === undefined ? null : planFrame(a.peer, me, p, seq);
    if (want === null || want.length !== f.data.length || !want.every((x, i) => x === f.data[i])) {
      rx.bad++;
      rx.badWhy = `frame seq ${seq} len ${f.data.length}: bytes differ`;
    }
  };

  const pump = (): void => {
    front.reapTx();
    while (go && sent < a.count) {
      const p = a.plan[sent % a.plan.length];
      const o: SendOpts = { flags: p.flags, gsoType: p.gsoType, gsoSize: p.gsoSize, slotBytes: p.slotBytes };
      const f = planFrame(me, a.peer, p, sent);
      const slots = TestFront.slotsFor(f.length, o);
      if (!front.send(f, o)) break;
      requests += slots;
      sent++;
    }
    if (front.pushTx()) notify();
    front.reapTx();
    if (!reported && go && sent === a.count && front.txAnswered >= requests + 1) {
      reported = true;
      const ms = performance.now() - t0;
      dom.report({
        t: "tx-done",
        sent,
        requests: requests + 1,
        answered: front.txAnswered,
        statuses: Object.fromEntries(front.txStatus),
        ms,
      });
    }
  };

  const onEvent = (): void => {
    if (a.role === "sender") pump();
    else front.reapTx();
    if (a.role === "receiver") {
      front.receive(out, false);
      for (const f of out) check(f);
      out.length = 0;
      if (front.postRx()) notify();
      if (rx.frames >= a.expect && !reported) {
        reported = true;
        dom.report({ t: "rx-done", ...rx });
      }
    }
  };
  dom.evtchn.on(port, onEvent);

  dom.onMessage((_from, data) => {
    const m = data as { t?: string };
    if (m.t === "connected") {
      if (a.role !== "silent" && a.role !== "evil") {
        if (front.postRx()) notify();
      }
      announce();
      dom.report({ t: "ready", role: a.role });
    } else if (m.t === "go") {
      go = true;
      t0 = performance.now();
      if (a.role === "sender") pump();
      if (a.role === "evil") {
        // A fragment crossing its page: "Cross page boundary", fatal.
        front.rawTx(1, 0, NETTXF_more_data, 3000);
        front.rawTx(2, 3000, 0, 2000);
        if (front.pushTx()) notify();
        dom.report({ t: "evil-sent" });
      }
    } else if (m.t === "stats") dom.report({ t: "rx-stats", ...rx, answered: front.txAnswered });
  });
  dom.post(0, {
    t: "connect",
    tx: front.txRingRef,
    rx: front.rxRingRef,
    port,
    features: a.features,
    backlog: a.backlog,
  });
}

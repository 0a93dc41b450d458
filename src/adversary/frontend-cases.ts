/**
 * The malicious frontend's catalogue: one named case per check Linux netback makes on a
 * guest (xen-protocol.md §7.1-7.2) and per advisory of §8 a guest can aim at Domain-0's
 * netback, grant operations, event channels or xenstored. Each case runs from a fresh
 * connection (RawFront) and leaves none behind; its expected outcome is Linux's.
 */
import { PAGE_SIZE } from "../hv/memory.js";
import {
  NET_TX_RING_SIZE,
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../wire/xen/netif.js";
import { KEY_EVENT_CHANNEL, KEY_MULTI_QUEUE_NUM_QUEUES, KEY_TX_RING_REF } from "../xenstore/keys.js";
import { XenbusState, xenbusStateName } from "../xenstore/xenbus.js";
import type { CaseInfo, CaseObservation, Outcome } from "./outcome.js";
import { type RawFront, sleep } from "./raw-front.js";

export interface FrontCase extends CaseInfo {
  run(f: RawFront): Promise<CaseObservation & { vifAlive: boolean | null }>;
}

type Obs = CaseObservation & { vifAlive: boolean | null };

/** How long a case waits for netback to answer or to give up on the vif. */
const SETTLE_MS = 600;

/**
 * Connects, lets `attack` write and publish, waits for `want` responses or the backend to
 * leave Connected, and classifies: the backend gone is fatal, an ERROR answer a drop, and
 * anything else ignored; a vif that is not fatal must still pass a valid frame.
 */
async function txAttack(
  f: RawFront,
  attack: (f: RawFront) => number | Promise<number>,
  keys: Record<string, string> = {},
  before?: (f: RawFront) => void,
): Promise<Obs> {
  const st = await f.connect(keys, before);
  if (st !== XenbusState.Connected) {
    await f.disconnect();
    return { outcome: "fatal", detail: `connect refused: backend ${xenbusStateName(st)}`, vifAlive: null };
  }
  try {
    const t0 = { ...f.tally };
    const from = f.rspCons;
    const want = await attack(f);
    f.notify();
    const end = Date.now() + SETTLE_MS;
    let be = await f.backendState();
    while (Date.now() < end && be === XenbusState.Connected) {
      f.reap();
      if (want > 0 && (f.rspCons - from) >>> 0 >= want) break;
      await sleep(5);
      be = await f.backendState();
    }
    // A fatal verdict reaches xenstore through netback's xenbus half: give it a moment.
    if (be === XenbusState.Connected) be = await f.waitBackend((s) => s !== XenbusState.Connected, 60);
    f.reap();
    const d = {
      okay: f.tally.okay - t0.okay,
      error: f.tally.error - t0.error,
      null: f.tally.null - t0.null,
      other: f.tally.other - t0.other,
    };
    const text = `responses okay ${d.okay} error ${d.error} null ${d.null} other ${d.other}; backend ${xenbusStateName(be)}`;
    if (be !== XenbusState.Connected) return { outcome: "fatal", detail: text, vifAlive: false };
    const alive = await f.probe();
    return { outcome: d.error > 0 ? "dropped" : "ignored", detail: text, vifAlive: alive };
  } finally {
    await f.disconnect();
  }
}

/** A packet of `slots` slots (each `per` bytes but the last), published. */
function chain(f: RawFront, slots: number, per: number, total = per * slots): number {
  let left = total;
  for (let i = 0; i < slots; i++) {
    const size = i === 0 ? total : Math.min(per, left);
    f.fill(i, 0, Math.min(per, PAGE_SIZE));
    f.tx(f.dataRefs[i % f.dataRefs.length], 0, i < slots - 1 ? NETTXF_more_data : 0, size);
    left -= Math.min(per, left);
  }
  f.publish();
  return slots;
}

const FRAME = 60;

export const FRONTEND_CASES: readonly FrontCase[] = [
  {
    name: "slots-accepted",
    does: "a 19-slot packet (18 after the first): the most a legacy netback takes",
    ref: "§7.2 XEN_NETBK_LEGACY_SLOTS_MAX",
    expect: ["ignored"],
    run: (f) => txAttack(f, (f) => chain(f, 19, 100)),
  },
  {
    name: "slots-dropped",
    does: "a 20-slot packet: above the legacy limit, below the fatal one",
    ref: "§7.2 (20-21 slots dropped)",
    expect: ["dropped"],
    run: (f) => txAttack(f, (f) => chain(f, 20, 100)),
  },
  {
    name: "slots-fatal",
    does: "a 22-slot packet: 21 slots after the first with more_data still set",
    ref: "§7.1 fatal_skb_slots; XSA-39",
    expect: ["fatal"],
    run: (f) => txAttack(f, (f) => chain(f, 22, 100)),
  },
  {
    name: "lying-producer",
    does: "req_prod published 1000 requests ahead of what the ring holds",
    ref: "§7.1 ring index jump",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.publish((f.reqProd + 1000) >>> 0);
        return 0;
      }),
  },
  {
    name: "chain-past-producer",
    does: "the last published slot has more_data set: the chain runs past req_prod",
    ref: "§7.1 Asked for slots",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, FRAME);
        f.tx(f.dataRefs[0], 0, NETTXF_more_data, 200);
        f.tx(f.dataRefs[1], 0, NETTXF_more_data, 100);
        f.publish();
        return 0;
      }),
  },
  {
    name: "first-crosses-page",
    does: "a one-slot frame at offset 4000 of 200 bytes: past the end of its page",
    ref: "§7.1 page crossing",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.tx(f.dataRefs[0], 4000, 0, 200);
        f.publish();
        return 1;
      }),
  },
  {
    name: "frag-crosses-page",
    does: "a fragment slot with offset + size = 4196",
    ref: "§7.1 page crossing",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, 100);
        f.tx(f.dataRefs[0], 0, NETTXF_more_data, 300);
        f.tx(f.dataRefs[1], 3996, 0, 200);
        f.publish();
        return 2;
      }),
  },
  {
    name: "frag-overflow",
    does: "a fragment larger than the size the first slot declared (a wrapped u16 size)",
    ref: "§7.2 txp->size > first->size",
    expect: ["dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, 100);
        f.tx(f.dataRefs[0], 0, NETTXF_more_data, 100);
        f.tx(f.dataRefs[1], 0, 0, 1000);
        f.publish();
        return 2;
      }),
  },
  {
    name: "runt-frame",
    does: "a 10-byte frame: shorter than an Ethernet header",
    ref: "§7.2 first fragment < ETH_HLEN",
    expect: ["dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        f.tx(f.dataRefs[0], 0, 0, 10);
        f.publish();
        return 1;
      }),
  },
  {
    name: "zero-length-frame",
    does: "a frame of size 0",
    ref: "§7.2 first fragment < ETH_HLEN",
    expect: ["dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        f.tx(f.dataRefs[0], 0, 0, 0);
        f.publish();
        return 1;
      }),
  },
  {
    name: "zero-length-frag",
    does: "a 60-byte frame whose second slot carries 0 bytes",
    ref: "XSA-448 (skip zero-size slots, never an empty fragment)",
    expect: ["ignored"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, FRAME);
        f.tx(f.dataRefs[0], 0, NETTXF_more_data, FRAME);
        f.tx(f.dataRefs[1], 0, 0, 0);
        f.publish();
        return 2;
      }),
  },
  {
    name: "missing-extra",
    does: "NETTXF_extra_info on the only published slot",
    ref: "§7.1 Missing extra info",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, FRAME);
        f.tx(f.dataRefs[0], 0, NETTXF_extra_info, FRAME);
        f.publish();
        return 0;
      }),
  },
  {
    name: "extra-type-zero",
    does: "an extra-info slot of type 0 (NONE)",
    ref: "§7.1 extra type 0",
    expect: ["fatal"],
    run: (f) => txAttack(f, (f) => withExtra(f, 0, 0)),
  },
  {
    name: "extra-type-unknown",
    does: "an extra-info slot of type 9 (beyond XEN_NETIF_EXTRA_TYPE_MAX)",
    ref: "§7.1 extra type >= MAX",
    expect: ["fatal"],
    run: (f) => txAttack(f, (f) => withExtra(f, 9, 0)),
  },
  {
    name: "extras-run-out",
    does: "extra-info slots each flagged MORE until the published requests end",
    ref: "§7.1 Missing extra info; XSA-39",
    expect: ["fatal"],
    run: (f) =>
      txAttack(f, (f) => {
        f.fill(0, 0, FRAME);
        f.tx(f.dataRefs[0], 0, NETTXF_extra_info, FRAME);
        for (let i = 0; i < 8; i++)
          f.extra(XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE, 1448, XEN_NETIF_GSO_TYPE_TCPV4);
        f.publish();
        return 0;
      }),
  },
  {
    name: "gso-size-zero",
    does: "a GSO extra with size 0",
    ref: "§7.1 GSO size 0",
    expect: ["fatal"],
    run: (f) => txAttack(f, (f) => withExtra(f, XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4)),
  },
  {
    name: "gso-type-bad",
    does: "a GSO extra of type 7 (neither TCPv4 nor TCPv6)",
    ref: "§7.1 GSO type",
    expect: ["fatal"],
    run: (f) => txAttack(f, (f) => withExtra(f, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, 7)),
  },
  {
    name: "bad-gref",
    does: "a frame whose gref is beyond the grant table",
    ref: "§7.2 per-slot grant failure; XSA-362",
    expect: ["dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        f.tx(0x7fffffff, 0, 0, FRAME);
        f.publish();
        return 1;
      }),
  },
  {
    name: "gref-not-granted",
    does: "a frame naming a free (never granted) entry of the grant table",
    ref: "§7.2 per-slot grant failure; XSA-362",
    expect: ["dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        f.tx(f.dom.grants.nEntries - 1, 0, 0, FRAME);
        f.publish();
        return 1;
      }),
  },
  {
    name: "gref-other-domain",
    does: "a frame in a page the guest granted to a different domain than the backend",
    ref: "§7.2 per-slot grant failure; XSA-226",
    expect: ["dropped"],
    run: async (f) => {
      const page = f.dom.pages.alloc();
      const other = f.dom.domid === 1 ? 2 : 1;
      const ref = f.dom.grants.grantAccess(other, page, true);
      try {
        return await txAttack(f, (f) => {
          f.tx(ref, 0, 0, FRAME);
          f.publish();
          return 1;
        });
      } finally {
        f.dom.grants.endAccess(ref);
        f.dom.pages.free(page);
      }
    },
  },
  {
    name: "double-fetch",
    does: "a valid request rewritten (size and offset flipping to a page-crossing value) while netback reads it",
    ref: "XSA-155 (copy each request once)",
    expect: ["ignored", "dropped", "fatal"],
    run: (f) =>
      txAttack(f, async (f) => {
        f.fill(0, 0, FRAME);
        const idx = f.tx(f.dataRefs[0], 0, 0, FRAME);
        f.publish();
        f.notify();
        const at = f.txSlot(idx);
        const dv = new DataView(f.u8.buffer);
        const end = Date.now() + 20;
        for (let i = 0; Date.now() < end; i++) {
          dv.setUint16(at + 4, i & 1 ? 4000 : 0, true);
          dv.setUint16(at + 10, i & 1 ? 4000 : FRAME, true);
        }
        return 1;
      }),
  },
  {
    name: "bad-ring-ref",
    does: "tx-ring-ref names an entry that was never granted",
    ref: "§7.2 at connect (map failure refuses the connection)",
    expect: ["fatal"],
    run: (f) => txAttack(f, () => 0, { [KEY_TX_RING_REF]: "4000" }),
  },
  {
    name: "ring-ref-garbage",
    does: "tx-ring-ref is not a decimal number",
    ref: "§7.2 at connect (unparsable key)",
    expect: ["fatal"],
    run: (f) => txAttack(f, () => 0, { [KEY_TX_RING_REF]: "12abc" }),
  },
  {
    name: "queues-over-max",
    does: "multi-queue-num-queues = 99",
    ref: "§7.2 at connect (num-queues > max)",
    expect: ["fatal"],
    run: (f) => txAttack(f, () => 0, { [KEY_MULTI_QUEUE_NUM_QUEUES]: "99" }),
  },
  {
    name: "bad-event-channel",
    does: "event-channel names a port out of range",
    ref: "XSA-221/342 (range-check every port)",
    expect: ["fatal"],
    run: (f) => txAttack(f, () => 0, { [KEY_EVENT_CHANNEL]: "99999" }),
  },
  {
    name: "ring-prod-ahead-at-connect",
    does: "the ring page already says req_prod = 1000 when the backend maps it",
    ref: "§7.2 at connect (req_prod - rsp_prod > RING_SIZE)",
    expect: ["fatal"],
    run: (f) =>
      txAttack(
        f,
        () => 0,
        {},
        (f) => f.publish(1000),
      ),
  },
  {
    name: "event-storm",
    does: "200 000 notifications with no work behind them",
    ref: "XSA-332 (late EOI, spurious-event accounting)",
    expect: ["ignored"],
    run: (f) =>
      txAttack(f, async (f) => {
        for (let i = 0; i < 200_000; i++) {
          f.notify();
          if (i % 20_000 === 0) await sleep(0);
        }
        return 0;
      }),
  },
  {
    name: "link-page-storm",
    does: "every pending and selector bit in Domain-0's half of the link page set, again and again",
    ref: "XSA-332; evtchn.ts (unbound pending bits are spurious)",
    expect: ["ignored"],
    run: (f) =>
      txAttack(f, async (f) => {
        const side = f.dom.evtchn.sides.find((s) => s.peer === f.backendId);
        if (side === undefined) return 0;
        const other = side.base === 0 ? 512 : 0;
        const end = Date.now() + 100;
        while (Date.now() < end) {
          for (let i = 4; i < 16 + 128; i++) Atomics.store(side.w, other + i, -1);
          Atomics.add(side.w, other, 1);
          Atomics.notify(side.w, other);
          await sleep(1);
        }
        return 0;
      }),
  },
  {
    name: "bad-port-send",
    does: "notifications on ports 0, 4095, 5000 and -1",
    ref: "XSA-221 (range-check every port)",
    expect: ["ignored"],
    run: (f) =>
      txAttack(f, (f) => {
        for (const p of [0, 4095, 5000, -1]) f.dom.evtchn.send(p);
        return 0;
      }),
  },
  {
    name: "ring-ref-revoked",
    does: "tries to end access to both ring grants while the backend has them mapped",
    ref: "XSA-230/396 (in-use grants cannot be revoked)",
    expect: ["ignored"],
    run: (f) =>
      txAttack(f, async (f) => {
        const ended = [f.txRingRef, f.rxRingRef].filter((r) => f.dom.grants.endAccess(r)).length;
        if (ended > 0) throw new Error(`${ended} mapped ring grant(s) were revoked`);
        return 0;
      }),
  },
  {
    name: "ring-full-of-garbage",
    does: "a whole TX ring of slots with sizes, offsets and flags from a fixed pattern",
    ref: "§7.1/§7.2 (every walk bounded by the produced requests)",
    expect: ["fatal", "dropped"],
    run: (f) =>
      txAttack(f, (f) => {
        let x = 0x9e3779b9;
        for (let i = 0; i < NET_TX_RING_SIZE; i++) {
          x = (x * 1103515245 + 12345) >>> 0;
          f.tx(f.dataRefs[i], x & 0xfff, (x >>> 12) & 0xf, (x >>> 16) & 0xffff);
        }
        f.publish();
        return 0;
      }),
  },
  {
    name: "bad-state",
    does: "writes frontend state 9 (no such XenbusState)",
    ref: "§3.3 frontend_changed (unknown state is fatal)",
    expect: ["fatal"],
    run: async (f) => {
      const st = await f.connect();
      await f.setState("9");
      const be = await f.waitBackend((s) => s !== XenbusState.Connected, SETTLE_MS);
      await f.disconnect();
      return stateObs(st, be);
    },
  },
  {
    name: "state-flapping",
    does: "300 frontend state writes cycling through every state, then a clean reconnect",
    ref: "§3.3; XSA-343-style races with reset",
    expect: ["ignored"],
    run: async (f) => {
      for (let i = 0; i < 300; i++) await f.setState(String(1 + ((i * 5) % 7)));
      await f.setState(XenbusState.Closed);
      await f.waitBackend((s) => s === XenbusState.Closed || s === XenbusState.InitWait, 3000);
      await f.setState(XenbusState.Initialising);
      const st = await f.connect();
      const alive = st === XenbusState.Connected ? await f.probe() : false;
      await f.disconnect();
      return {
        outcome: st === XenbusState.Connected ? "ignored" : "fatal",
        detail: `reconnect after flapping: backend ${xenbusStateName(st)}`,
        vifAlive: alive,
      };
    },
  },
  {
    name: "xenstore-huge-values",
    does: "writes 1500-byte values into 1200 nodes of its vif directory (over the node quota)",
    ref: "XSA-326 (per-domain node and memory quotas)",
    expect: ["ignored"],
    run: (f) =>
      xsAbuse(f, async () => {
        const big = "x".repeat(1500);
        let refused = 0;
        for (let i = 0; i < 1200; i++) await f.xs.write(`${f.dir}/adv/n${i}`, big).catch(() => refused++);
        await f.xs.rm(`${f.dir}/adv`).catch(() => undefined);
        return `refused ${refused} of 1200 writes`;
      }),
  },
  {
    name: "xenstore-watch-flood",
    does: "registers 300 watches on one path and writes it 50 times",
    ref: "XSA-326 (watch and event quotas)",
    expect: ["ignored"],
    run: (f) =>
      xsAbuse(f, async () => {
        const path = `${f.dir}/adv-w`;
        let refused = 0;
        const ws = [];
        for (let i = 0; i < 300; i++) {
          try {
            ws.push(await f.xs.watch(path, `t${i}`));
          } catch {
            refused++;
          }
        }
        for (let i = 0; i < 50; i++) await f.xs.write(path, String(i)).catch(() => undefined);
        for (const w of ws) await w.close().catch(() => undefined);
        await f.xs.rm(path).catch(() => undefined);
        return `refused ${refused} of 300 watches`;
      }),
  },
  {
    name: "xenstore-deep-tree",
    does: "creates a path 1000 components deep",
    ref: "XSA-418 (depth and path-length limits)",
    expect: ["ignored"],
    run: (f) =>
      xsAbuse(f, async () => {
        const path = `${f.dir}/${"d/".repeat(1000)}leaf`;
        const ok = await f.xs.write(path, "1").then(
          () => true,
          () => false,
        );
        await f.xs.rm(`${f.dir}/d`).catch(() => undefined);
        return ok ? "accepted" : "refused";
      }),
  },
];

function withExtra(f: RawFront, type: number, flags: number, size = 0, gsoType = 0): number {
  f.fill(0, 0, FRAME);
  f.tx(f.dataRefs[0], 0, NETTXF_extra_info, FRAME);
  f.extra(type, flags, size, gsoType);
  f.publish();
  return 0;
}

function stateObs(st: XenbusState, be: XenbusState): Obs {
  const outcome: Outcome = be === XenbusState.Connected ? "ignored" : "fatal";
  return {
    outcome,
    detail: `connected: ${xenbusStateName(st)}; after: backend ${xenbusStateName(be)}`,
    vifAlive: null,
  };
}

/** A xenstore abuse while the vif is connected: the vif must keep working meanwhile. */
async function xsAbuse(f: RawFront, abuse: () => Promise<string>): Promise<Obs> {
  const st = await f.connect();
  try {
    const what = await abuse();
    const be = await f.backendState();
    const alive = be === XenbusState.Connected ? await f.probe() : false;
    return {
      outcome: be === XenbusState.Connected ? "ignored" : "fatal",
      detail: `${what}; backend ${xenbusStateName(be)} (connected: ${xenbusStateName(st)})`,
      vifAlive: alive,
    };
  } finally {
    await f.disconnect();
  }
}

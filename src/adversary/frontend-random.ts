/**
 * The malicious frontend's random mode: N random words written where a guest can write
 * them (TX ring slots and req_prod, its own grant entries, Domain-0's half of their link
 * page, keys of its vif directory), in batches, each followed by a notification. Whenever
 * netback gives up on the vif the adversary reconnects and goes on. Seeded: the same seed
 * writes the same words.
 */

import { bounded, withTimeout } from "../base/timeout.js";
import { SIDE_MASK, SIDE_PENDING, SIDE_SEL, SIDE_WAKE } from "../hv/evtchn.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { NET_TX_RING_SIZE, NETTXF_extra_info, NETTXF_more_data } from "../wire/xen/netif.js";
import {
  KEY_EVENT_CHANNEL,
  KEY_MULTI_QUEUE_NUM_QUEUES,
  KEY_RX_RING_REF,
  KEY_TX_RING_REF,
} from "../xenstore/keys.js";
import { XenbusState } from "../xenstore/xenbus.js";
import { type RandomTotals, Rng } from "./random.js";
import { type RawFront, sleep } from "./raw-front.js";

const BATCH = 64;
/** Int32 words of one side of a link page (evtchn.ts). */
const SIDE_WORDS = 512;
const XS_BOUND_MS = 3000;

const KEYS = [KEY_TX_RING_REF, KEY_RX_RING_REF, KEY_EVENT_CHANNEL, KEY_MULTI_QUEUE_NUM_QUEUES, "feature-sg"];

function randomValue(r: Rng): string {
  switch (r.below(5)) {
    case 0:
      return String(r.u32());
    case 1:
      return String(r.below(300));
    case 2:
      return "x".repeat(r.below(2000));
    case 3:
      return `${r.below(10)}abc`;
    default:
      return "";
  }
}

/**
 * A reconnect that does not finish: the adversary's own xenstore stopped answering. Random
 * pending bits in Domain-0's half of the link page have been seen to do that (Domain-0
 * stops serving this guest's ports; other guests are not affected): the run ends there,
 * saying so, rather than hang.
 */
function stalled(writes: number): string {
  return `after ${writes} writes the adversary's own xenstore stopped answering (Domain-0 no longer serves its ports)`;
}

export async function frontendRandom(f: RawFront, n: number, seed: number): Promise<RandomTotals> {
  const r = new Rng(seed);
  const t: RandomTotals = { writes: 0, reconnects: 0, responses: 0, dropped: 0 };
  const e0 = f.tally.error;
  const dv = new DataView(f.u8.buffer);
  const connectRandom = async (): Promise<boolean> => {
    // One connection in eight gets a random key: most are refused, which is the point.
    const keys: Record<string, string> = {};
    if (r.chance(0.125)) {
      keys[r.pick(KEYS)] = randomValue(r);
      t.writes++;
    }
    return (await f.connect(keys)) === XenbusState.Connected;
  };
  let up = await connectRandom();
  while (t.writes < n) {
    if (!up) {
      await withTimeout(f.disconnect(), 10_000, stalled(t.writes));
      t.reconnects++;
      up = await withTimeout(connectRandom(), 10_000, stalled(t.writes));
      continue;
    }
    const kind = r.below(16);
    if (kind < 12) {
      // Ring slots: most look like packets (so netback gets past the first check), the rest noise.
      for (let i = 0; i < BATCH && t.writes < n; i++, t.writes++) {
        const slot = r.below(NET_TX_RING_SIZE);
        if (r.chance(0.95)) {
          const more = r.chance(0.05) ? NETTXF_more_data : 0;
          const extra = r.chance(0.01) ? NETTXF_extra_info : 0;
          const off = r.chance(0.98) ? 0 : r.below(PAGE_SIZE);
          f.fill(slot, 0, 64);
          f.tx(f.dataRefs[slot], off, more | extra, r.below(1600));
        } else {
          const at = f.txSlot(f.reqProd);
          dv.setUint32(at, r.u32(), true);
          dv.setUint32(at + 4, r.u32(), true);
          dv.setUint32(at + 8, r.u32(), true);
          f.reqProd = (f.reqProd + 1) >>> 0;
        }
      }
      // The producer: honest, or a lie now and then.
      f.publish(r.chance(0.97) ? f.reqProd : r.u32());
      t.writes++;
    } else if (kind === 12) {
      // Grant entries: one of our data grants pointed at a random frame and domain.
      const i = r.below(f.dataRefs.length);
      f.dom.grants.grantAccessRef(f.dataRefs[i], r.below(8), r.u32() & 0xfffff, r.chance(0.5));
      t.writes++;
    } else if (kind === 13) {
      // Link page: random pending words in Domain-0's half, then every selector bit and a
      // wake, so Domain-0 looks at them all. Without that kick, a pending bit left set with
      // no selector makes this guest's own later notifications no-ops (the bit is already
      // set), and Domain-0 stops serving this guest's ports, its xenstore ring included: the
      // guest starves itself only, but the run could not go on. Mask words are left alone
      // for the same reason.
      const side = f.dom.evtchn.sides.find((s) => s.peer === f.backendId);
      if (side !== undefined) {
        const other = side.base === 0 ? SIDE_WORDS : 0;
        for (let i = 0; i < 16; i++, t.writes++)
          Atomics.store(side.w, other + SIDE_PENDING + r.below(SIDE_MASK - SIDE_PENDING), r.u32() | 0);
        for (let i = SIDE_SEL; i < SIDE_PENDING; i++) Atomics.store(side.w, other + i, -1);
        Atomics.add(side.w, other + SIDE_WAKE, 1);
        Atomics.notify(side.w, other + SIDE_WAKE);
      }
    } else if (kind === 14) {
      // A vif key rewritten while connected (read again only at the next connect).
      const k = r.pick(KEYS);
      const v = randomValue(r);
      await f.xs.write(`${f.dir}/${k}`, v).catch(() => undefined);
      t.writes++;
    } else {
      for (let i = 0; i < 1 + r.below(1000); i++) f.notify();
      t.writes++;
    }
    f.notify();
    await sleep(0);
    f.reap();
    t.responses = f.tally.okay + f.tally.error + f.tally.null + f.tally.other;
    if (
      r.chance(0.1) &&
      (await bounded(
        f.backendState().catch(() => undefined),
        XS_BOUND_MS,
      )) !== XenbusState.Connected
    )
      up = false;
    // A ring that stopped answering (full of unanswerable requests): start over.
    if (up && (f.reqProd - f.rspCons) >>> 0 >= NET_TX_RING_SIZE) {
      await sleep(5);
      f.reap();
      if ((f.reqProd - f.rspCons) >>> 0 >= NET_TX_RING_SIZE) up = false;
    }
  }
  // Our data grants back as they were, for whatever runs next.
  for (let i = 0; i < f.dataRefs.length; i++)
    f.dom.grants.grantAccessRef(f.dataRefs[i], f.backendId, f.dataPages[i], true);
  await withTimeout(f.disconnect(), 10_000, stalled(t.writes));
  t.dropped = f.tally.error - e0;
  return t;
}

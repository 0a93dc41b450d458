/**
 * A hostile frontend for ring-back, `rounds` times over (seeded, so a failure replays): it
 * connects with a fresh ring, scribbles random bytes over the ring and its producer index a
 * few times (kicking the backend after each), then makes one certainly fatal write
 * (req_prod a ring and one past the responses) unless an earlier one already was. Each
 * round waits for Domain-0's `disconnected` and then checks that its grants are no longer
 * mapped (endAccess succeeds). It reports the reasons it was given and any grant still pinned.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { PAGE_SIZE } from "../../../src/hv/memory.js";
import { RingArea } from "../../../src/ring/area.js";
import { FrontRing } from "../../../src/ring/front.js";
import { NETIF_TX_ENTRY_SIZE } from "../../../src/wire/xen/netif.js";
import { SRING_REQ_PROD, SRING_RSP_PROD } from "../../../src/wire/xen/sring.js";

export interface EvilReport {
  t: "attacked";
  rounds: number;
  reasons: string[];
  /** Rounds in which the backend hung up before the certainly fatal write. */
  earlyFatal: number;
  stillMapped: number;
  refused: string[];
}

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const { rounds, seed } = raw as { rounds: number; seed: number };
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const mem = dom.memory.mem;
  const ringPage = dom.pages.alloc();
  const bufPage = dom.pages.alloc();
  const base = ringPage * PAGE_SIZE;
  const reqProdI = (base + SRING_REQ_PROD) >>> 2;
  const rspProdI = (base + SRING_RSP_PROD) >>> 2;
  let answer: ((m: { t?: string; reason?: string }) => void) | null = null;
  let hungUp: string | null = null;
  dom.onMessage((from, data) => {
    if (from !== 0) return;
    const m = data as { t?: string; reason?: string };
    if (m.t === "disconnected") hungUp = String(m.reason);
    answer?.(m);
  });
  const next = (): Promise<{ t?: string; reason?: string }> => new Promise((r) => (answer = r));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const report: EvilReport = {
    t: "attacked",
    rounds: 0,
    reasons: [],
    earlyFatal: 0,
    stillMapped: 0,
    refused: [],
  };

  for (let round = 0; round < rounds; round++) {
    hungUp = null;
    const ringRef = dom.grants.grantAccess(0, ringPage, false);
    const bufRef = dom.grants.grantAccess(0, bufPage, true);
    FrontRing.init(new RingArea(mem, [base], NETIF_TX_ENTRY_SIZE));
    const port = await dom.evtchnAllocUnbound(0);
    const connected = next();
    dom.post(0, { t: "connect", ringRefs: [ringRef], bufRefs: [bufRef], rxRingRefs: [], port });
    const a = await connected;
    if (a.t !== "connected") {
      report.refused.push(String(a.reason));
      break;
    }
    const bye = new Promise<void>((r) => {
      const check = (): void => (hungUp !== null ? r() : void setTimeout(check, 1));
      check();
    });
    for (let k = rnd() % 4; k > 0 && hungUp === null; k--) {
      for (let i = 64; i < PAGE_SIZE; i += 4)
        mem.u32[(base + i) >>> 2] = rnd() & (rnd() & 1 ? 0xffffffff : 0x00ff0fff);
      // Mostly a plausible step (garbage requests the backend must refuse one by one),
      // sometimes anything at all.
      const cur = Atomics.load(mem.u32, reqProdI);
      Atomics.store(mem.u32, reqProdI, rnd() % 4 ? (cur + 1 + (rnd() & 63)) >>> 0 : rnd());
      dom.evtchn.send(port);
      await sleep(2);
    }
    if (hungUp === null) {
      Atomics.store(mem.u32, reqProdI, (Atomics.load(mem.u32, rspProdI) + 257) >>> 0);
      dom.evtchn.send(port);
    } else report.earlyFatal++;
    await bye;
    report.reasons.push(hungUp ?? "");
    // Unmapped by Domain-0: the grants can be ended (endAccess refuses an entry in use).
    if (!dom.grants.endAccess(ringRef)) report.stillMapped++;
    if (!dom.grants.endAccess(bufRef)) report.stillMapped++;
    await dom.evtchnClose(port);
    report.rounds++;
  }
  dom.report(report);
}

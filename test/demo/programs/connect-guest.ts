/**
 * A guest that abuses ring-back's connect: it grants a proper order-0 TX ring and one
 * buffer page, then, as `args.plan` says, sends several connects at once, connects naming one
 * ref many times, or naming more refs than a ring can use. It reports every answer it got
 * (`{t:"answers", answers}`) once `args.expect` have arrived.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { PAGE_SIZE } from "../../../src/hv/memory.js";
import { RingArea } from "../../../src/ring/area.js";
import { FrontRing } from "../../../src/ring/front.js";
import { NETIF_TX_ENTRY_SIZE } from "../../../src/wire/xen/netif.js";

export interface ConnectPlan {
  /** Connect messages, sent back to back without waiting for an answer. */
  plan: ("good" | "dup" | "dupSmall" | "oversized" | "dupAcross")[];
}

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const { plan } = raw as ConnectPlan;
  const mem = dom.memory.mem;
  const ringPage = dom.pages.alloc();
  const bufPage = dom.pages.alloc();
  const ringRef = dom.grants.grantAccess(0, ringPage, false);
  const bufRef = dom.grants.grantAccess(0, bufPage, true);
  FrontRing.init(new RingArea(mem, [ringPage * PAGE_SIZE], NETIF_TX_ENTRY_SIZE));
  const port = await dom.evtchnAllocUnbound(0);
  const answers: string[] = [];
  dom.onMessage((from, data) => {
    const m = data as { t?: string; reason?: string };
    if (from !== 0) return;
    answers.push(m.t === "refused" ? `refused: ${m.reason}` : String(m.t));
    if (answers.length === plan.length) dom.report({ t: "answers", answers });
  });
  for (const p of plan) {
    const bufRefs =
      p === "dup"
        ? Array<number>(16383).fill(bufRef)
        : p === "dupSmall"
          ? Array<number>(100).fill(bufRef)
          : p === "oversized"
            ? Array.from({ length: 2049 }, (_, i) => i + 8)
            : p === "dupAcross"
              ? [bufRef, ringRef]
              : [bufRef];
    dom.post(0, { t: "connect", ringRefs: [ringRef], bufRefs, rxRingRefs: [], port });
  }
}

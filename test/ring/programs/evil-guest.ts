/**
 * A hostile frontend for ring-back: it connects properly, then scribbles random bytes over
 * its TX ring and producer index, and kicks the backend, `rounds` times (seeded, so a
 * failure replays). It reports what it did; the test checks the backend survived.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { PAGE_SIZE } from "../../../src/hv/memory.js";
import { RingArea } from "../../../src/ring/area.js";
import { FrontRing } from "../../../src/ring/front.js";
import { NETIF_TX_ENTRY_SIZE } from "../../../src/wire/xen/netif.js";
import { SRING_REQ_PROD } from "../../../src/wire/xen/sring.js";

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
  const ringRef = dom.grants.grantAccess(0, ringPage, false);
  const bufRef = dom.grants.grantAccess(0, bufPage, true);
  FrontRing.init(new RingArea(mem, [ringPage * PAGE_SIZE], NETIF_TX_ENTRY_SIZE));
  const port = await dom.evtchnAllocUnbound(0);
  dom.onMessage((_from, data) => {
    if ((data as { t?: string }).t !== "connected") return;
    let r = 0;
    const attack = (): void => {
      const base = ringPage * PAGE_SIZE;
      for (let i = 64; i < PAGE_SIZE; i += 4)
        mem.u32[(base + i) >>> 2] = rnd() & (rnd() & 1 ? 0xffffffff : 0x00ff0fff);
      // Producer index: sometimes a plausible step, sometimes anything.
      const cur = Atomics.load(mem.u32, (base + SRING_REQ_PROD) >>> 2);
      Atomics.store(mem.u32, (base + SRING_REQ_PROD) >>> 2, rnd() & 1 ? (cur + (rnd() & 63)) >>> 0 : rnd());
      dom.evtchn.send(port);
      if (++r < rounds) setTimeout(attack, 1);
      else dom.report({ t: "attacked", rounds: r });
    };
    attack();
  });
  dom.post(0, { t: "connect", ringRefs: [ringRef], bufRefs: [bufRef], rxRingRefs: [], port });
}

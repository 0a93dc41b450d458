/**
 * netfront stages its pools over the control ring by default, after both ends are
 * Connected: a test that takes Domain-0's counts as a baseline waits for that to finish,
 * else a late registration looks like a leak.
 */
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { TX_SMALL_BUF } from "../../src/netfront/tx.js";
import type { Host } from "../../src/toolstack/host.js";

/**
 * Staging grants a connected vif holds: per queue its TX and RX pools of a ring's worth of
 * pages each, and the pages of as many small TX buffers (TX_SMALL_BUF bytes each).
 */
export function poolGrants(v: { queues: number; ringPageOrder: number }): number {
  const n = 256 << v.ringPageOrder;
  return v.queues * (2 * n + Math.ceil(n / (PAGE_SIZE / TX_SMALL_BUF)));
}

/** Waits until every connected vif's pools are staged in Domain-0 (Host.resources). */
export async function untilStaged(host: Host, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  let last = -1;
  let want = 0;
  for (;;) {
    const vifs = host.status().vifs.filter((v) => v.frontend.state === 4 && v.backend.state === 4);
    want = vifs.reduce((n, v) => n + poolGrants(v), 0);
    last = (await host.resources()).stagedGrants;
    if (last === want) return;
    if (Date.now() > end) throw new Error(`staging grants: ${last} staged, ${want} expected`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * netfront stages its pools over the control ring by default, after both ends are
 * Connected: a test that takes Domain-0's counts as a baseline waits for that to finish,
 * else a late registration looks like a leak.
 */
import type { Host } from "../../src/toolstack/host.js";

/** Staging grants a connected vif holds: its TX and RX pools, a ring's worth each per queue. */
export function poolGrants(v: { queues: number; ringPageOrder: number }): number {
  return v.queues * 2 * (256 << v.ringPageOrder);
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

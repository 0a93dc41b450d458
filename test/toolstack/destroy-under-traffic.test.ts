/**
 * A guest destroyed under traffic costs the others nothing: guest1 and guest2 ping and
 * UDP-echo each other every 10 ms while guest3, added at run time, sends to both and is
 * destroyed in the middle of it, five times over. Every probe of the pair is answered
 * (none times out, none fails to send) and every Domain-0 count comes back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import type { DomainConfig } from "../../src/toolstack/config-types.js";
import { parseCidr } from "../../src/toolstack/control.js";
import { Host, type PingSummary } from "../../src/toolstack/host.js";
import { untilStaged } from "./staged.js";

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a guest destroyed under traffic: the other pair loses no probe, Domain-0 keeps nothing", async () => {
  const config = defaultHostConfig();
  const g2 = config.domains[2] as DomainConfig;
  const vif = g2.vifs[0]!;
  const guest3: Omit<DomainConfig, "domid"> = {
    ...g2,
    name: "guest3",
    vifs: [
      {
        ...vif,
        mac: "00:16:3e:00:03:00",
        ip: parseCidr("10.0.0.3/24") ?? undefined,
      },
    ],
  };
  const host = await Host.boot(config, {
    socketPath: null,
    ping: { count: 0, intervalMs: 10, timeoutMs: 1000 },
    statusMs: 20,
  });
  try {
    const pair = (): PingSummary[] =>
      host.status().pings.filter((p) => p.from.startsWith("guest1") || p.from.startsWith("guest2"));
    await until(
      "the pair exchanging probes",
      10_000,
      () => pair().length === 4 && pair().every((p) => p.received > 5),
    );
    await untilStaged(host);
    const baseline = await host.resources();
    const before = pair().map((p) => ({ ...p }));
    for (let life = 0; life < 5; life++) {
      const domid = await host.addGuest(guest3);
      const sent = (): number =>
        host
          .status()
          .pings.filter((p) => p.from === "guest3:0")
          .reduce((n, p) => n + p.received, 0);
      await until(`guest3 (dom${domid}) exchanging frames`, 10_000, () => sent() > 5);
      await host.destroyGuest(domid);
    }
    // Probes in flight at the end are answered within their timeout: let them land.
    await new Promise((r) => setTimeout(r, 1200));
    for (const [i, p] of pair().entries()) {
      const b = before[i]!;
      console.log(
        `${p.from} -> ${p.to} ${p.kind}: ${p.sent - b.sent} sent, ${p.received - b.received} answered`,
      );
      assert.equal(`${p.from} ${p.to} ${p.kind}`, `${b.from} ${b.to} ${b.kind}`);
      assert.ok(p.sent - b.sent > 50, `${p.from} -> ${p.to} ${p.kind}: ${p.sent - b.sent} probes meanwhile`);
      // Every probe sent in the window was answered (one may still be in flight).
      assert.ok(
        p.sent - p.received <= b.sent - b.received + 1,
        `${p.from} -> ${p.to} ${p.kind}: ${p.sent - b.sent} sent, ${p.received - b.received} answered, last error ${p.lastError}`,
      );
      assert.equal(p.lastError, b.lastError, `${p.from} -> ${p.to} ${p.kind}: no new error`);
    }
    let now = await host.resources();
    for (let end = Date.now() + 4000; Date.now() < end && JSON.stringify(now) !== JSON.stringify(baseline); )
      now = await host.resources();
    assert.deepEqual(now, baseline);
  } finally {
    await host.shutdown();
  }
});

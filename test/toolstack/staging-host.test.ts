/**
 * A host whose vifs stage their buffer pools (`staging-grants: true`) and run two queues
 * with steering: the guests ping each other over it, Domain-0 holds the staged mappings
 * while they run, and shutdown leaves nothing behind.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { poolGrants } from "./staged.js";

const YAML = `
domains:
  - name: Domain-0
  - name: g1
    vifs: [{ ip: 10.0.0.1/24, queues: 2, staging-grants: true }]
  - name: g2
    vifs: [{ ip: 10.0.0.2/24, staging-grants: true }]
bridges:
  vale0: {}
`;

test("staging grants and steering in a running host: pings both ways, pools held mapped, released at guest death and backend restart", async () => {
  const r = parseHostConfig(YAML, "staging.yaml");
  assert.ok(r.ok);
  const host = await Host.boot(r.config, { socketPath: null });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = host.status();
      const done = s.pings.filter((p) => p.kind === "icmp" && p.received >= 3).length;
      if (done >= 2) break;
      if (Date.now() > deadline) assert.fail(`pings: ${JSON.stringify(s.pings)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const vifs = host.status().vifs;
    // Rings plus the pools (a 256-entry ring's pools are 256 + 256 grants per queue).
    for (const v of vifs)
      assert.ok(v.grantMappings >= 512 * v.queues, `${v.name}: ${v.grantMappings} mappings`);
    assert.deepEqual(
      vifs.map((v) => [v.name, v.queues, v.fatal]),
      [
        ["vif1.0", 2, false],
        ["vif2.0", 1, false],
      ],
    );
    const during = await host.resources();
    assert.ok(during.stagedGrants >= 512 * 3, `staged: ${during.stagedGrants}`);
    // A guest destroyed with its pools staged: its mappings end with it, nothing is left.
    const g2Staged = host.status().vifs[1]!.grantMappings;
    await host.destroyGuest("g2");
    const deadline2 = Date.now() + 20_000;
    for (;;) {
      const r = await host.resources();
      if (r.stagedGrants <= during.stagedGrants - 512 && r.dom0Mappings <= during.dom0Mappings - g2Staged)
        break;
      if (Date.now() > deadline2)
        assert.fail(`after destroy: ${JSON.stringify(r)} (before ${JSON.stringify(during)})`);
      await new Promise((res) => setTimeout(res, 100));
    }
    // A backend restart unmaps the survivor's staged pools and the new backend is asked afresh.
    await host.restartBackend();
    const deadline3 = Date.now() + 20_000;
    for (;;) {
      const r = await host.resources();
      // g1's two queues staged again with the new backend (each 256 TX pages, 16 pages of
      // small TX buffers and 256 RX pages: staged.ts's poolGrants).
      if (r.stagedGrants === poolGrants({ queues: 2, ringPageOrder: 0 })) break;
      if (Date.now() > deadline3) assert.fail(`after restart: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    await host.shutdown();
  }
});

/**
 * A host whose vifs stage their buffer pools (`staging-grants: true`) and run two queues
 * with steering: the guests ping each other over it, Domain-0 holds the staged mappings
 * while they run, and shutdown leaves nothing behind.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

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

test("staging grants and steering in a running host: pings answered both ways, pools held mapped", async () => {
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
  } finally {
    await host.shutdown();
  }
});

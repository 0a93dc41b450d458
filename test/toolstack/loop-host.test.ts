/**
 * A host whose guests run `loop: block` and whose Domain-0 runs `loop: adaptive` (from the
 * host file): the guests boot (xenstore handshake, hypercalls, control messages all reach a
 * thread asleep in Atomics.wait), ping each other, and shut down cleanly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

const YAML = `
domains:
  - name: Domain-0
    loop: adaptive
  - name: g1
    loop: block
    vifs: [{ ip: 10.0.0.1/24 }]
  - name: g2
    loop: block
    vifs: [{ ip: 10.0.0.2/24 }]
bridges:
  vale0: {}
`;

test("guests with loop: block and Domain-0 with loop: adaptive boot, ping both ways and stop", async () => {
  const r = parseHostConfig(YAML, "loop.yaml");
  assert.ok(r.ok);
  const host = await Host.boot(r.config, { socketPath: null });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = host.status();
      const done = s.pings.filter((p) => p.kind === "icmp" && p.received >= 5).length;
      if (done >= 2) break;
      if (Date.now() > deadline) assert.fail(`pings: ${JSON.stringify(s.pings)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    // The host file's loop keys reached the machine.
    assert.deepEqual(
      host.machine.status().map((d) => [d.name, d.loopMode]),
      [
        ["Domain-0", "adaptive"],
        ["g1", "block"],
        ["g2", "block"],
      ],
    );
    assert.deepEqual(
      host.status().vifs.map((v) => [v.name, v.fatal]),
      [
        ["vif1.0", false],
        ["vif2.0", false],
      ],
    );
  } finally {
    await host.shutdown();
  }
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_HOST_YAML, parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

test("a guest whose netfront does not notify for RX (rx-notify: false) is served: netback polls, pings both ways answer", async () => {
  const yaml = DEFAULT_HOST_YAML.replace("rx-notify: true", "rx-notify: false");
  assert.notEqual(yaml, DEFAULT_HOST_YAML);
  const r = parseHostConfig(yaml, "h.yaml");
  assert.ok(r.ok);
  assert.equal(r.config.domains[1]!.vifs[0]!.features.rxNotify, false);
  const host = await Host.boot(r.config, { socketPath: null });
  try {
    for (let i = 0; i < 10; i++) {
      const there = await host.ping(1, 0x0a000002, 5000);
      const back = await host.ping(2, 0x0a000001, 5000);
      assert.ok(there.ok && back.ok, `round ${i}: ${JSON.stringify([there, back])}`);
    }
    assert.ok(host.status().vifs.every((v) => !v.fatal));
  } finally {
    await host.shutdown();
  }
});

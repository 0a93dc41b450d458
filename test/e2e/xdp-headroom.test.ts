import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_HOST_YAML, parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

test("xdp-headroom end to end: a guest asking for 256 bytes of headroom has every frame placed after it, and its stack reads them right: pings both ways", async () => {
  const yaml = DEFAULT_HOST_YAML.replace("ip: 10.0.0.1/24", "xdp-headroom: 256\n        ip: 10.0.0.1/24");
  assert.notEqual(yaml, DEFAULT_HOST_YAML);
  const r = parseHostConfig(yaml, "h.yaml");
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.config.domains[1]!.vifs[0]!.xdpHeadroom, 256);
  const host = await Host.boot(r.config, { socketPath: null });
  try {
    for (let i = 0; i < 5; i++) {
      const there = await host.ping(1, 0x0a000002, 5000);
      const back = await host.ping(2, 0x0a000001, 5000);
      assert.ok(there.ok && back.ok, `round ${i}: ${JSON.stringify([there, back])}`);
    }
    const v = host.status().vifs.find((x) => x.domid === 1)!;
    assert.equal(v.fatal, false);
    assert.equal(v.stack.rxDropBadChecksum + v.stack.rxDropMalformed, 0, "nothing read at the wrong offset");
  } finally {
    await host.shutdown();
  }
});
